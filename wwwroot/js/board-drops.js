// Drag an image tile onto a board. Only the image's id travels (in a type of our own, so a file or a
// link dragged in from elsewhere is not taken); the server decides whether it may go on that board.
const imageType = "application/x-fluxweb-image";

export function attachBoardDrops(container, dotnet) {
  if (!container) {
    return { dispose() {} };
  }

  // Any tile with data-image-id (the gallery's, a board's) can be picked up.
  const onDragStart = event => {
    const tile = event.target instanceof Element ? event.target.closest("[data-image-id]") : null;
    if (!tile || !event.dataTransfer) {
      return;
    }
    event.dataTransfer.setData(imageType, tile.getAttribute("data-image-id"));
    event.dataTransfer.effectAllowed = "copy";
  };

  const targetOf = event => (event.target instanceof Element ? event.target.closest("[data-board-id]") : null);
  const carriesImage = event => !!event.dataTransfer && Array.from(event.dataTransfer.types).includes(imageType);

  const onDragOver = event => {
    const target = targetOf(event);
    if (target && carriesImage(event)) {
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      target.classList.add("fw-board-drop-over");
    }
  };

  const onDragLeave = event => {
    targetOf(event)?.classList.remove("fw-board-drop-over");
  };

  const onDrop = event => {
    const target = targetOf(event);
    if (!target || !carriesImage(event)) {
      return;
    }
    event.preventDefault();
    target.classList.remove("fw-board-drop-over");
    const imageId = event.dataTransfer.getData(imageType);
    if (imageId) {
      dotnet.invokeMethodAsync("DropOnBoard", target.getAttribute("data-board-id"), imageId);
    }
  };

  document.addEventListener("dragstart", onDragStart);
  container.addEventListener("dragover", onDragOver);
  container.addEventListener("dragleave", onDragLeave);
  container.addEventListener("drop", onDrop);
  return {
    dispose() {
      document.removeEventListener("dragstart", onDragStart);
      container.removeEventListener("dragover", onDragOver);
      container.removeEventListener("dragleave", onDragLeave);
      container.removeEventListener("drop", onDrop);
    },
  };
}
