// Drag images onto boards. The drag source is the one every FluxWeb image shares (image-drag.js): the
// image's id in a type of our own, or this server's image address. Only the id travels to .NET; the server
// decides whether it may go on that board.
import { droppedImageId, listenForImageDrags, mayCarryImage } from "./image-drag.js";

export function attachBoardDrops(container, dotnet) {
  if (!container) {
    return { dispose() {} };
  }

  listenForImageDrags();
  const targetOf = (event) => (event.target instanceof Element ? event.target.closest("[data-board-id]") : null);

  // Both dragenter and dragover are cancelled over a board: that is what makes it a drop target (the HTML
  // drag-and-drop model), and the drop only comes when the last dragover accepted it.
  const onDragEnterOrOver = (event) => {
    const target = targetOf(event);
    if (!target || !mayCarryImage(event.dataTransfer)) {
      return;
    }
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    target.classList.add("fw-board-drop-over");
  };

  const onDragLeave = (event) => {
    const target = targetOf(event);
    // Moving onto the chip's own label is not leaving the chip.
    if (target && !(event.relatedTarget instanceof Node && target.contains(event.relatedTarget))) {
      target.classList.remove("fw-board-drop-over");
    }
  };

  const onDrop = (event) => {
    const target = targetOf(event);
    if (!target || !mayCarryImage(event.dataTransfer)) {
      return;
    }
    event.preventDefault();
    target.classList.remove("fw-board-drop-over");
    // An address that is not one of this server's images comes through as "" and is answered with why.
    const imageId = droppedImageId(event.dataTransfer) ?? "";
    dotnet.invokeMethodAsync("DropOnBoard", target.getAttribute("data-board-id"), imageId).catch(() => {
      // The component went away (page left, circuit closed): nobody is waiting for the answer.
    });
  };

  container.addEventListener("dragenter", onDragEnterOrOver);
  container.addEventListener("dragover", onDragEnterOrOver);
  container.addEventListener("dragleave", onDragLeave);
  container.addEventListener("drop", onDrop);
  // A drop before this point would go nowhere; scripts and tests wait for the mark.
  container.dataset.dropsReady = "true";
  return {
    dispose() {
      delete container.dataset.dropsReady;
      container.removeEventListener("dragenter", onDragEnterOrOver);
      container.removeEventListener("dragover", onDragEnterOrOver);
      container.removeEventListener("dragleave", onDragLeave);
      container.removeEventListener("drop", onDrop);
    },
  };
}
