// Picture uploads for the Studio (reference images and the source of a masked edit): drag-and-drop
// onto a zone, or a file picker. Each file is checked here first (type and size), so a wrong file gets
// a clear message before anything is sent; then it is POSTed as the request body with fetch. .NET only
// hears the server's answer (id and size) or the reason for a refusal: pixels never cross the circuit.

import { IMAGE_ID_TYPE, droppedImageId, listenForImageDrags } from "./image-drag.js";

// The same header every changing API call carries: a cross-site page cannot send it (CSRF guard).
const REQUEST_HEADER = "X-FluxWeb-Request";
const ACCEPTED = new Map([
  ["image/png", "PNG"],
  ["image/jpeg", "JPEG"],
  ["image/webp", "WebP"],
]);
const KNOWN_OTHERS = new Map([
  ["image/gif", "a GIF"],
  ["image/tiff", "a TIFF"],
  ["image/bmp", "a BMP"],
  ["image/svg+xml", "an SVG drawing"],
  ["image/heic", "a HEIC photo"],
  ["image/heif", "a HEIF photo"],
  ["image/avif", "an AVIF picture"],
]);

export function attachImageUploads(zone, input, dotNetRef, options = {}) {
  if (!(zone instanceof HTMLElement) || !(input instanceof HTMLInputElement)) {
    throw new TypeError("attachImageUploads needs the drop zone and its file input.");
  }

  const uploadUrl = String(options.uploadUrl || "");
  // Pictures already on the server (a Studio result, a gallery image) are dropped by id, not uploaded again.
  const acceptsImages = Boolean(options.acceptsImages);
  // One zone per page takes pictures pasted from the clipboard (Ctrl+V anywhere but in a text field that pastes text).
  const acceptsPaste = Boolean(options.acceptsPaste);
  let maxBytes = Number(options.maxBytes) || 0;
  let disabled = Boolean(options.disabled);
  let disposed = false;
  let dragDepth = 0;
  let queue = Promise.resolve();

  const picker = zone.querySelector("[data-fw-pick]");
  const onPick = (event) => {
    event.preventDefault();
    if (!disabled) {
      input.click();
    }
  };
  const onChange = () => {
    const files = Array.from(input.files || []);
    // Cleared at once, so picking the same file again fires another change.
    input.value = "";
    enqueue(files);
  };
  const carriesFiles = (event) => {
    const types = Array.from(event.dataTransfer?.types || []);
    return types.includes("Files") || (acceptsImages && (types.includes(IMAGE_ID_TYPE) || types.includes("text/uri-list")));
  };
  const onDragEnter = (event) => {
    if (!carriesFiles(event)) {
      return;
    }
    event.preventDefault();
    dragDepth++;
    zone.classList.toggle("fw-drop-active", !disabled);
  };
  const onDragOver = (event) => {
    if (!carriesFiles(event)) {
      return;
    }
    event.preventDefault();
    event.dataTransfer.dropEffect = disabled ? "none" : "copy";
  };
  const onDragLeave = (event) => {
    if (!carriesFiles(event)) {
      return;
    }
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) {
      zone.classList.remove("fw-drop-active");
    }
  };
  const onDrop = (event) => {
    if (!carriesFiles(event)) {
      return;
    }
    event.preventDefault();
    dragDepth = 0;
    zone.classList.remove("fw-drop-active");
    if (disabled) {
      return;
    }
    const files = Array.from(event.dataTransfer.files || []);
    const imageId = files.length === 0 && acceptsImages ? droppedImageId(event.dataTransfer) : null;
    if (imageId) {
      call("ImageDropped", imageId);
    } else if (files.length > 0) {
      enqueue(files);
    } else if (acceptsImages) {
      call("UploadFailed", "", "Only pictures can be dropped here: files, or a result or gallery image of this FluxWeb.");
    }
  };
  const onPaste = (event) => {
    if (disabled || !zone.isConnected) {
      return;
    }
    const files = Array.from(event.clipboardData?.files || []).filter((file) => file.type.startsWith("image/"));
    if (files.length === 0) {
      // Text goes where it was pasted, as always.
      return;
    }
    event.preventDefault();
    enqueue(files.map((file, i) => (file.name && file.name !== "image.png" ? file : renamed(file, i))));
  };

  picker?.addEventListener("click", onPick);
  input.addEventListener("change", onChange);
  zone.addEventListener("dragenter", onDragEnter);
  zone.addEventListener("dragover", onDragOver);
  zone.addEventListener("dragleave", onDragLeave);
  zone.addEventListener("drop", onDrop);
  if (acceptsPaste) {
    document.addEventListener("paste", onPaste);
  }
  if (acceptsImages) {
    listenForImageDrags();
  }
  // Files chosen before this point would go nowhere; scripts and tests wait for the mark.
  zone.dataset.uploadsReady = "true";

  // One batch at a time and one file at a time, so images arrive in the order they were chosen.
  function enqueue(files) {
    if (files.length === 0) {
      return;
    }
    queue = queue.then(() => uploadAll(files)).catch(() => {});
  }

  async function uploadAll(files) {
    if (disposed) {
      return;
    }
    const allowed = await call("ReserveUploads", files.length);
    const accepted = files.slice(0, Math.max(0, Number(allowed) || 0));
    for (const file of accepted) {
      if (disposed) {
        return;
      }
      const problem = precheck(file);
      if (problem) {
        await call("UploadFailed", file.name, problem);
        continue;
      }
      try {
        const answer = await send(file);
        await call("UploadSucceeded", { id: answer.id, width: answer.width, height: answer.height, name: file.name });
      } catch (error) {
        await call("UploadFailed", file.name, error instanceof Error ? error.message : String(error));
      }
    }
  }

  function precheck(file) {
    const name = file.name || "The file";
    if (!ACCEPTED.has(file.type)) {
      const kind = KNOWN_OTHERS.get(file.type);
      return kind
        ? `${name} is ${kind}; FluxWeb takes PNG, JPEG or WebP pictures. Convert it and try again.`
        : `${name} is not a PNG, JPEG or WebP picture. Choose one of those.`;
    }
    if (file.size === 0) {
      return `${name} is empty.`;
    }
    if (maxBytes > 0 && file.size > maxBytes) {
      return `${name} is ${mebibytes(file.size)} MiB; pictures may be at most ${mebibytes(maxBytes)} MiB. Save it smaller (or as JPEG or WebP) and try again.`;
    }
    return null;
  }

  async function send(file) {
    const url = `${uploadUrl}?name=${encodeURIComponent(file.name || "")}`;
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        body: file,
        headers: { "Content-Type": file.type, [REQUEST_HEADER]: "studio" },
        credentials: "same-origin",
      });
    } catch {
      throw new Error(`${file.name} could not be sent: the server did not answer. Check the connection and try again.`);
    }
    const text = await response.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!response.ok || !json?.id) {
      const reason = json?.detail || json?.title || `the server answered ${response.status}`;
      throw new Error(`${file.name} was not accepted: ${reason}`.replace(/\s+/g, " "));
    }
    return json;
  }

  async function call(method, ...args) {
    if (disposed) {
      return null;
    }
    try {
      return await dotNetRef.invokeMethodAsync(method, ...args);
    } catch {
      // The component went away (page left, circuit closed): nobody is waiting for the answer.
      return null;
    }
  }

  return {
    update(next = {}) {
      if (next.maxBytes !== undefined) {
        maxBytes = Number(next.maxBytes) || 0;
      }
      if (next.disabled !== undefined) {
        disabled = Boolean(next.disabled);
        if (disabled) {
          zone.classList.remove("fw-drop-active");
        }
      }
    },
    dispose() {
      disposed = true;
      delete zone.dataset.uploadsReady;
      picker?.removeEventListener("click", onPick);
      input.removeEventListener("change", onChange);
      zone.removeEventListener("dragenter", onDragEnter);
      zone.removeEventListener("dragover", onDragOver);
      zone.removeEventListener("dragleave", onDragLeave);
      zone.removeEventListener("drop", onDrop);
      document.removeEventListener("paste", onPaste);
    },
  };
}

// Pasted screenshots are all called image.png; a name with the time tells them apart in the list.
function renamed(file, index) {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const extension = file.type === "image/jpeg" ? "jpg" : file.type === "image/webp" ? "webp" : "png";
  return new File([file], `pasted-${stamp}${index ? `-${index}` : ""}.${extension}`, { type: file.type });
}

function mebibytes(bytes) {
  return (bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, "");
}
