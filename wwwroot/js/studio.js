// The Studio's few browser-side touches: bringing the stage into view from the phone's bottom bar,
// and keeping small things in this browser between visits (the form, dismissed jobs; one entry per user).
export function showStage() {
  const stage = document.getElementById("studio-stage");
  if (!stage) return false;
  const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  stage.scrollIntoView({ behavior: still ? "auto" : "smooth", block: "start" });
  stage.focus({ preventScroll: true });
  return true;
}

export function load(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    // Storage switched off (private mode, a policy): the form simply starts afresh.
    return null;
  }
}

export function save(key, json) {
  try {
    window.localStorage.setItem(key, json);
    return true;
  } catch {
    return false;
  }
}
