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

// ---- The tab: its icon shows the running job's progress, or a tick when it is done.
let originalIcon;

export function setFavicon(state) {
  let link = document.querySelector("link[rel~='icon']");
  if (!link) {
    link = document.createElement("link");
    link.rel = "icon";
    document.head.appendChild(link);
  }
  originalIcon ??= { href: link.href, type: link.type };
  // What the icon shows ("idle", a percentage, "done"), for people's tools and the browser tests.
  link.dataset.state = String(state);
  if (state === "idle") {
    link.href = originalIcon.href;
    link.type = originalIcon.type;
    return true;
  }
  const size = 32;
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = size;
  const g = canvas.getContext("2d");
  g.lineWidth = 5;
  g.strokeStyle = "rgba(120, 120, 140, 0.45)";
  g.beginPath();
  g.arc(16, 16, 12, 0, 2 * Math.PI);
  g.stroke();
  g.strokeStyle = "#4f3fd9";
  g.beginPath();
  if (state === "done") {
    g.arc(16, 16, 12, 0, 2 * Math.PI);
    g.stroke();
    g.lineWidth = 4;
    g.strokeStyle = "#1b7f3b";
    g.beginPath();
    g.moveTo(9, 17);
    g.lineTo(14, 22);
    g.lineTo(23, 11);
  } else {
    const done = Math.max(0, Math.min(100, Number(state) || 0)) / 100;
    g.arc(16, 16, 12, -Math.PI / 2, -Math.PI / 2 + Math.max(0.04, done) * 2 * Math.PI);
  }
  g.stroke();
  link.type = "image/png";
  link.href = canvas.toDataURL("image/png");
  return true;
}

// ---- Notifications: opt-in, only while the tab is hidden, remembered in this browser.
const notifyKey = "fluxweb.notify";

export function notificationState() {
  if (!("Notification" in window)) return "unsupported";
  if (Notification.permission === "denied") return "blocked";
  return Notification.permission === "granted" && load(notifyKey) === "on" ? "on" : "off";
}

export async function enableNotifications() {
  if (!("Notification" in window)) return "unsupported";
  const permission = Notification.permission === "default" ? await Notification.requestPermission() : Notification.permission;
  if (permission !== "granted") return permission === "denied" ? "blocked" : "off";
  save(notifyKey, "on");
  return "on";
}

export function disableNotifications() {
  save(notifyKey, "off");
  return notificationState();
}

export function notifyIfHidden(title, body, icon) {
  if (!document.hidden || notificationState() !== "on") return false;
  const note = new Notification(title, { body, icon, tag: "fluxweb-done" });
  note.onclick = () => { window.focus(); note.close(); };
  return true;
}
