// The lightbox over the page. While it is open, the keys it uses (← → ↑ ↓ Home End Space, Page Up/Down) and the
// wheel do not scroll the page behind it; when it closes, the focus goes back to what opened it.
const pageKeys = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End", " ", "Spacebar", "PageUp", "PageDown"]);

function ownsKey(target, key) {
  if (!(target instanceof Element)) return false;
  if (target.closest("textarea, select, [contenteditable=''], [contenteditable=true]")) return true;
  const input = target.closest("input");
  // A slider moves its handle with the arrows and Home/End (that is not the page scrolling); a text field moves its caret.
  if (input) return true;
  // Space presses a focused button or link.
  return (key === " " || key === "Spacebar") && target.closest("button, a[href], [role=button]") !== null;
}

export function hold(element) {
  const active = document.activeElement;
  const opener = active instanceof HTMLElement && active !== document.body && !element.contains(active) ? active : null;
  const root = document.documentElement;
  const overflow = root.style.overflow;
  root.style.overflow = "hidden";
  const onKey = event => {
    if (pageKeys.has(event.key) && !event.ctrlKey && !event.metaKey && !event.altKey && !ownsKey(event.target, event.key)) {
      event.preventDefault();
    }
  };
  element.addEventListener("keydown", onKey);
  element.focus({ preventScroll: true });
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      element.removeEventListener("keydown", onKey);
      root.style.overflow = overflow;
      if (opener && opener.isConnected) opener.focus({ preventScroll: true });
    },
  };
}
