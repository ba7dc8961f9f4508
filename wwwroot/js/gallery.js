// The gallery's few browser-side helpers. Pixels never cross the circuit: images are plain <img> URLs.

// Calls dotnet.invokeMethodAsync(method) while the sentinel is near the viewport, so the next page
// loads before the user reaches the end; the method answers whether more pages exist. The "Load
// more" button stays for keyboards and as a fallback.
export function observeSentinel(sentinel, dotnet, method) {
  if (!sentinel || typeof IntersectionObserver === "undefined") {
    return { dispose() {} };
  }
  const margin = 800;
  const near = () => {
    const box = sentinel.getBoundingClientRect();
    return sentinel.isConnected && box.top < window.innerHeight + margin && box.bottom > -margin;
  };
  const nextFrame = () => new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  let busy = false;
  let disposed = false;
  // The observer only reports changes: after a short page the sentinel may still be in view, so keep
  // loading (one page at a time, after the new items have been drawn) until it is not.
  const pump = async () => {
    if (busy) {
      return;
    }
    busy = true;
    try {
      while (!disposed && near()) {
        const more = await dotnet.invokeMethodAsync(method);
        if (!more) {
          break;
        }
        await nextFrame();
      }
    } catch {
      // The circuit is gone (page left or reconnecting); the button still works once it is back.
    } finally {
      busy = false;
    }
  };
  const observer = new IntersectionObserver(entries => {
    if (entries.some(e => e.isIntersecting)) {
      pump();
    }
  }, { rootMargin: `${margin}px 0px` });
  observer.observe(sentinel);
  return { dispose() { disposed = true; observer.disconnect(); } };
}

// The browser's IANA time zone, so dates show and filter on the user's own clock.
export function timeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || null;
  } catch {
    return null;
  }
}

// Starts a download (a ZIP the server streams) without leaving the page: the browser saves an
// attachment instead of navigating to it, and the Blazor circuit stays as it was.
export function download(url) {
  const link = document.createElement("a");
  link.href = url;
  link.download = "";
  link.rel = "noopener";
  document.body.appendChild(link);
  link.click();
  link.remove();
}
