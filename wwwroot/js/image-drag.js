// One drag source for every FluxWeb image on a page, and one way to read it back. Whatever is marked
// data-fw-image-id (a Studio result, the stage, a gallery or board tile, the detail view's picture) puts
// the image's id into the drag in a type of our own; every kind of target (the Studio's reference slots,
// the boards above a grid) reads it with droppedImageId. Two conventions had drifted apart before: a
// picture that dropped on one kind of target went nowhere on the other.

export const IMAGE_ID_TYPE = "application/x-fluxweb-image";
const IMAGE_PATH = /\/api\/v1\/images\/([0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12})(?:\/thumbnail)?$/i;

// One listener for the document, however many targets a page has.
let listening = false;
export function listenForImageDrags() {
  if (listening) {
    return;
  }
  listening = true;
  document.addEventListener("dragstart", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    const source = target?.closest("[data-fw-image-id]") ?? target?.querySelector?.("[data-fw-image-id]");
    const id = source?.getAttribute("data-fw-image-id");
    if (id && event.dataTransfer) {
      event.dataTransfer.setData(IMAGE_ID_TYPE, id);
      event.dataTransfer.effectAllowed = "copy";
    }
  });
}

// Whether a drag may be one of our images. Only the types can be read until the drop, so an address is
// taken on trust here and checked by droppedImageId.
export function mayCarryImage(dataTransfer) {
  const types = Array.from(dataTransfer?.types || []);
  return types.includes(IMAGE_ID_TYPE) || types.includes("text/uri-list");
}

// The id of the FluxWeb image dropped: our own type when the drag began on a marked image, else the
// address of the image (browsers drag an <img> or its link as a URL), if it is one of this server's.
export function droppedImageId(dataTransfer) {
  const own = dataTransfer.getData(IMAGE_ID_TYPE);
  if (own) {
    return own;
  }
  const lines = (dataTransfer.getData("text/uri-list") || dataTransfer.getData("text/plain") || "").split(/\r?\n/);
  for (const line of lines) {
    if (!line || line.startsWith("#")) {
      continue;
    }
    try {
      const url = new URL(line.trim(), document.baseURI);
      const match = url.origin === location.origin ? IMAGE_PATH.exec(url.pathname) : null;
      if (match) {
        return match[1];
      }
    } catch {
      // Not an address.
    }
  }
  return null;
}
