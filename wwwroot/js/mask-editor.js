// Mask editor for masked editing (inpainting): an image with a paintable mask overlay.
//
// The mask lives in a canvas at the image's native resolution; only its alpha channel matters
// (alpha = how strongly a pixel is repainted). The canvas is drawn in the overlay colour and shown
// with CSS opacity, so changing the overlay never touches pixels. Pointer events only queue points;
// one requestAnimationFrame callback stamps them into the mask, so a 2048×2048 mask is never redrawn
// as a whole while painting. Undo keeps, per stroke, the alpha of the 64×64 tiles inside the stroke's
// bounding box that the brush touched (read the first time the brush reaches each tile), never full
// snapshots, within a count and a byte budget.

const DEFAULTS = Object.freeze({
  brushSize: 48,
  hardness: 0.8,
  overlayOpacity: 0.5,
  overlayColor: "#ff2d6f",
  historyLimit: 100,
  historyBytesLimit: 64 * 1024 * 1024,
});

// The server refuses larger masks; a bigger canvas would also cost hundreds of MiB in the browser.
const MAX_SIDE = 8192;
const MIN_BRUSH = 1;
const MAX_BRUSH = 1024;
const NOTIFY_INTERVAL_MS = 150;
const TILE = 64;
// Stamps this far apart (as a fraction of the radius) leave no visible scallops on a hard edge.
const STAMP_SPACING = 0.15;
// The same header the upload endpoint requires: a cross-site form cannot send it, so it guards against CSRF.
const REQUEST_HEADER = "X-FluxWeb-Request";
// Zoom: from half the fitted size to 32 image pixels a screen pixel's worth; each wheel notch or key is one step.
const MIN_ZOOM = 0.5;
const MAX_ZOOM = 64;
const ZOOM_STEP = 1.25;
const TOOLS = new Set(["brush", "eraser", "rect", "lasso"]);
const SVG = "http://www.w3.org/2000/svg";
const INTERACTIVE_SELECTOR = "input, button, select, textarea, a[href], label, [contenteditable], [role=slider], [role=button]";

export async function createMaskEditor(element, dotNetRef, options = {}) {
  if (!(element instanceof HTMLElement)) {
    throw new TypeError("createMaskEditor needs the element to draw in.");
  }

  const imageUrl = typeof options.imageUrl === "string" ? options.imageUrl : "";
  let width = positiveInteger(options.width);
  let height = positiveInteger(options.height);
  const loading = imageUrl ? loadImage(imageUrl) : Promise.reject(new Error("No image was given to the mask editor."));
  let image = null;
  if (!width || !height) {
    // Without a declared size the image decides it, so it has to arrive first.
    image = await loading;
    width = image.naturalWidth;
    height = image.naturalHeight;
  }

  if (width > MAX_SIDE || height > MAX_SIDE) {
    loading.catch(() => {});
    throw new RangeError(`The image is ${width}×${height} pixels; masks can be at most ${MAX_SIDE} pixels on a side.`);
  }

  const editor = buildEditor(element, dotNetRef, { ...DEFAULTS, ...definedOnly(options) }, width, height);
  if (image) {
    editor.showImage(image);
  } else {
    loading.then(editor.showImage, editor.showImageError);
  }

  // A saved mask to start from ("use these settings" on a masked edit): its grey becomes the overlay's alpha.
  if (typeof options.maskUrl === "string" && options.maskUrl) {
    loadImage(options.maskUrl).then(editor.loadMask, () => editor.showMaskError());
  }

  return editor.api;
}

function buildEditor(host, dotNetRef, settings, width, height) {
  let disposed = false;
  let tool = TOOLS.has(settings.tool) ? settings.tool : "brush";
  const maxBrushSize = Math.round(clamp(Number(settings.maxBrushSize) || MAX_BRUSH, MIN_BRUSH, MAX_BRUSH));
  let brushSize = Math.round(clamp(Number(settings.brushSize) || DEFAULTS.brushSize, MIN_BRUSH, maxBrushSize));
  let hardness = clamp(Number(settings.hardness), 0, 1);
  let overlayColor = String(settings.overlayColor);
  let overlayOpacity = clamp(Number(settings.overlayOpacity), 0, 1);
  let imageError = null;

  // ---- DOM ---------------------------------------------------------------------------------
  const stage = document.createElement("div");
  stage.className = "fw-mask-stage";
  stage.tabIndex = 0;
  stage.setAttribute("role", "application");
  stage.setAttribute("aria-roledescription", "mask editor");
  stage.setAttribute("aria-label", String(settings.label || "Mask painting area"));
  stage.setAttribute("aria-keyshortcuts", "B E M L [ ] I Q 0 1 + - Space Control+Z Control+Shift+Z Control+Y");
  // Only the editor itself opts out of scrolling and selection; the rest of the page scrolls as usual.
  Object.assign(stage.style, { position: "relative", overflow: "hidden", touchAction: "none", userSelect: "none", webkitUserSelect: "none", boxSizing: "border-box" });

  const frame = document.createElement("div");
  frame.className = "fw-mask-frame";
  const aspect = width / height;
  Object.assign(frame.style, {
    position: "relative",
    margin: "0 auto",
    aspectRatio: `${width} / ${height}`,
    width: `min(100%, calc(var(--fw-mask-max-height, 70vh) * ${aspect}))`,
    transformOrigin: "0 0",
  });

  const imageCanvas = createCanvas(width, height, "fw-mask-image");
  imageCanvas.setAttribute("role", "img");
  imageCanvas.setAttribute("aria-label", String(settings.imageLabel || "Image being masked"));
  const maskCanvas = createCanvas(width, height, "fw-mask-layer");
  maskCanvas.setAttribute("aria-hidden", "true");
  maskCanvas.style.opacity = String(clamp(Number(settings.overlayOpacity), 0, 1));
  for (const canvas of [imageCanvas, maskCanvas]) {
    Object.assign(canvas.style, { position: "absolute", inset: "0", width: "100%", height: "100%", display: "block" });
  }

  const cursor = document.createElement("div");
  cursor.className = "fw-mask-cursor";
  cursor.setAttribute("aria-hidden", "true");
  Object.assign(cursor.style, { position: "absolute", left: "0", top: "0", pointerEvents: "none", borderRadius: "50%", display: "none", boxSizing: "border-box" });

  const message = document.createElement("p");
  message.className = "fw-mask-message";
  message.setAttribute("role", "status");
  message.hidden = true;

  // Rectangle and lasso outlines while they are drawn, in image pixels whatever the zoom.
  const outline = document.createElementNS(SVG, "svg");
  outline.setAttribute("class", "fw-mask-outline");
  outline.setAttribute("viewBox", `0 0 ${width} ${height}`);
  outline.setAttribute("preserveAspectRatio", "none");
  outline.setAttribute("aria-hidden", "true");
  Object.assign(outline.style, { position: "absolute", inset: "0", width: "100%", height: "100%", pointerEvents: "none", overflow: "visible" });
  const outlineShape = document.createElementNS(SVG, "polygon");
  outlineShape.setAttribute("fill", "rgba(255, 45, 111, 0.25)");
  outlineShape.setAttribute("stroke", "#fff");
  outlineShape.setAttribute("stroke-width", "1.5");
  outlineShape.setAttribute("stroke-dasharray", "4 3");
  outlineShape.setAttribute("vector-effect", "non-scaling-stroke");
  outline.append(outlineShape);
  outline.style.display = "none";

  frame.append(imageCanvas, maskCanvas, outline, cursor);
  stage.append(frame, message);
  host.replaceChildren(stage);

  // The mask is read back while painting (undo tiles) and on export, so keep it in CPU memory.
  const mask = maskCanvas.getContext("2d", { willReadFrequently: true });
  const tileColumns = Math.ceil(width / TILE);

  // ---- brush stamp ---------------------------------------------------------------------------
  let stamp = null;
  function buildStamp() {
    const radius = brushSize / 2;
    const size = Math.ceil(brushSize) + 2;
    const canvas = createCanvas(size, size);
    const ctx = canvas.getContext("2d");
    const centre = size / 2;
    ctx.beginPath();
    ctx.arc(centre, centre, radius, 0, Math.PI * 2);
    if (hardness >= 0.999) {
      ctx.fillStyle = overlayColor;
    } else {
      const gradient = ctx.createRadialGradient(centre, centre, radius * hardness, centre, centre, radius);
      gradient.addColorStop(0, withAlpha(overlayColor, 1));
      gradient.addColorStop(1, withAlpha(overlayColor, 0));
      ctx.fillStyle = gradient;
    }
    ctx.fill();
    stamp = { canvas, size, radius };
  }

  // ---- painting ----------------------------------------------------------------------------
  let stroke = null;
  let frameRequest = 0;
  let hover = null;
  let pressStartedOnControl = false;

  function beginStroke(event) {
    const erase = tool === "eraser" || (event.pointerType === "pen" && (event.buttons & 32) !== 0);
    stroke = { pointerId: event.pointerId, erase, queue: [], last: null, untilNextStamp: 0, tiles: new Map() };
    try {
      stage.setPointerCapture(event.pointerId);
    } catch {
      // A pointer that is no longer active cannot be captured; the stroke still gets this element's events.
    }
    queuePoints(event);
  }

  function queuePoints(event) {
    const events = typeof event.getCoalescedEvents === "function" ? event.getCoalescedEvents() : [];
    for (const e of events.length > 0 ? events : [event]) {
      stroke.queue.push({ clientX: e.clientX, clientY: e.clientY, pressure: penPressure(e) });
    }
    requestFrame();
  }

  function requestFrame() {
    if (!frameRequest && !disposed) {
      frameRequest = requestAnimationFrame(onFrame);
    }
  }

  function onFrame() {
    frameRequest = 0;
    drainQueue();
    drawCursor();
  }

  function drainQueue() {
    if (!stroke || stroke.queue.length === 0) {
      return;
    }

    // Measured now, not cached: the page may have scrolled or the layout changed since the stroke began.
    const rect = frame.getBoundingClientRect();
    if (!stamp) {
      buildStamp();
    }
    mask.save();
    mask.globalCompositeOperation = stroke.erase ? "destination-out" : "source-over";
    for (const point of stroke.queue) {
      strokeTo(toImagePoint(point, rect));
    }
    mask.restore();
    stroke.queue.length = 0;
  }

  // Maps a pointer position to image pixels. Positions beyond the image are clamped to its edge,
  // so strokes that start or wander outside still paint the border rows and columns.
  function toImagePoint(point, rect = frame.getBoundingClientRect()) {
    const x = rect.width > 0 ? ((point.clientX - rect.left) * width) / rect.width : 0;
    const y = rect.height > 0 ? ((point.clientY - rect.top) * height) / rect.height : 0;
    return { x: clamp(x, 0, width), y: clamp(y, 0, height), radius: Math.max(0.5, (brushSize / 2) * point.pressure) };
  }

  // Stamps evenly along the segment from the previous point, so fast moves leave no gaps.
  function strokeTo(point) {
    const last = stroke.last;
    if (!last) {
      stampAt(point.x, point.y, point.radius);
      stroke.last = point;
      stroke.untilNextStamp = spacing(point.radius);
      return;
    }

    const dx = point.x - last.x;
    const dy = point.y - last.y;
    const distance = Math.hypot(dx, dy);
    if (distance === 0) {
      return;
    }

    let travelled = stroke.untilNextStamp;
    while (travelled <= distance) {
      const t = travelled / distance;
      const radius = last.radius + (point.radius - last.radius) * t;
      stampAt(last.x + dx * t, last.y + dy * t, radius);
      travelled += spacing(radius);
    }
    stroke.untilNextStamp = travelled - distance;
    stroke.last = point;
  }

  function stampAt(x, y, radius) {
    const size = stamp.size * (radius / stamp.radius);
    const left = x - size / 2;
    const top = y - size / 2;
    keepTilesBefore(left, top, left + size, top + size);
    mask.drawImage(stamp.canvas, left, top, size, size);
  }

  // The first time a stroke reaches a tile, its alpha is kept: that is the stroke's undo data. Reading
  // 64×64 tiles as the brush arrives costs little per frame and nothing when the stroke ends.
  function keepTilesBefore(left, top, right, bottom, tiles = stroke.tiles) {
    const firstColumn = Math.max(0, Math.floor(left / TILE));
    const lastColumn = Math.min(tileColumns - 1, Math.floor(right / TILE));
    const firstRow = Math.max(0, Math.floor(top / TILE));
    const lastRow = Math.min(Math.ceil(height / TILE) - 1, Math.floor(bottom / TILE));
    for (let row = firstRow; row <= lastRow; row++) {
      for (let column = firstColumn; column <= lastColumn; column++) {
        const key = row * tileColumns + column;
        if (!tiles.has(key)) {
          const x = column * TILE;
          const y = row * TILE;
          const w = Math.min(TILE, width - x);
          const h = Math.min(TILE, height - y);
          tiles.set(key, { x, y, w, h, alpha: alphaOf(mask.getImageData(x, y, w, h)) });
        }
      }
    }
  }

  function endStroke() {
    if (!stroke) {
      return;
    }

    drainQueue();
    const finished = stroke;
    stroke = null;
    if (finished.entered) {
      // The press began on page text, which the browser kept selecting while the stroke was painted.
      document.getSelection()?.removeAllRanges();
    }
    try {
      if (stage.hasPointerCapture(finished.pointerId)) {
        stage.releasePointerCapture(finished.pointerId);
      }
    } catch {
      // Already released by the browser.
    }

    if (finished.tiles.size === 0) {
      return;
    }

    record({ kind: "tiles", tiles: [...finished.tiles.values()] });
    painted = finished.erase ? (painted === false ? false : null) : true;
    notifySoon();
  }

  // ---- view: zoom and pan -------------------------------------------------------------------
  // The frame keeps its fitted layout size; a transform scales and moves it inside the stage, which clips it.
  // Painting measures the frame on screen (getBoundingClientRect), so strokes land in image pixels at any zoom.
  let zoom = 1;
  let panX = 0;
  let panY = 0;
  let pan = null;
  let spaceHeld = false;
  let maskOnly = false;

  function applyView() {
    frame.style.transform = zoom === 1 && panX === 0 && panY === 0 ? "" : `translate(${panX}px, ${panY}px) scale(${zoom})`;
    stage.dataset.zoom = String(Math.round(viewScale() * 100));
    stage.dataset.panX = String(Math.round(panX));
    stage.dataset.panY = String(Math.round(panY));
    stage.classList.toggle("fw-mask-panning", spaceHeld || !!pan);
    requestFrame();
    notifyViewSoon();
  }

  // Screen pixels per image pixel: 1 is "100 %".
  function viewScale() {
    return frame.offsetWidth > 0 ? (frame.offsetWidth * zoom) / width : 1;
  }

  // Zooms to `next` keeping the image point under (clientX, clientY) where it is.
  function zoomAt(next, clientX, clientY) {
    const target = clamp(next, MIN_ZOOM, Math.max(MIN_ZOOM, (MAX_ZOOM * width) / Math.max(1, frame.offsetWidth)));
    // The transform's origin is the frame's corner: the point under the pointer, in unzoomed frame pixels, stays put.
    const rect = frame.getBoundingClientRect();
    const u = (clientX - rect.left) / zoom;
    const v = (clientY - rect.top) / zoom;
    panX += u * (zoom - target);
    panY += v * (zoom - target);
    zoom = target;
    keepInView();
    applyView();
  }

  function stageCentre() {
    const rect = stage.getBoundingClientRect();
    return [rect.left + rect.width / 2, rect.top + rect.height / 2];
  }

  // At least 48 px of the picture stay inside the stage, so it cannot be panned out of reach.
  function keepInView() {
    const w = frame.offsetWidth * zoom;
    const h = frame.offsetHeight * zoom;
    const left = frame.offsetLeft;
    const top = frame.offsetTop;
    const keepX = Math.min(w, 48);
    const keepY = Math.min(h, 48);
    panX = clamp(panX, keepX - w - left, stage.clientWidth - keepX - left);
    panY = clamp(panY, keepY - h - top, stage.clientHeight - keepY - top);
  }

  function fitView() {
    zoom = 1;
    panX = 0;
    panY = 0;
    applyView();
  }

  // One image pixel per screen pixel, centred on the stage's middle.
  function actualSize() {
    const [x, y] = stageCentre();
    zoomAt(width / Math.max(1, frame.offsetWidth), x, y);
  }

  function zoomBy(factor) {
    const [x, y] = stageCentre();
    zoomAt(zoom * factor, x, y);
  }

  function setMaskOnly(value) {
    maskOnly = Boolean(value);
    stage.classList.toggle("fw-mask-only", maskOnly);
    imageCanvas.style.visibility = maskOnly ? "hidden" : "";
    maskCanvas.style.filter = maskOnly ? "brightness(0) invert(1)" : "";
    maskCanvas.style.opacity = maskOnly ? "1" : String(overlayOpacity);
    frame.style.background = maskOnly ? "#000" : "";
  }

  function onWheel(event) {
    event.preventDefault();
    // Pixel, line or page deltas: roughly one step per notch of a wheel, smooth on touchpads.
    const delta = event.deltaMode === 1 ? event.deltaY * 33 : event.deltaMode === 2 ? event.deltaY * 400 : event.deltaY;
    zoomAt(zoom * Math.pow(ZOOM_STEP, -delta / 100), event.clientX, event.clientY);
  }

  function beginPan(event) {
    pan = { pointerId: event.pointerId, x: event.clientX, y: event.clientY, panX, panY };
    try {
      stage.setPointerCapture(event.pointerId);
    } catch {
      // Not capturable any more; the pan still follows this element's events.
    }
    applyView();
  }

  function movePan(event) {
    panX = pan.panX + event.clientX - pan.x;
    panY = pan.panY + event.clientY - pan.y;
    keepInView();
    applyView();
  }

  function endPan() {
    pan = null;
    applyView();
  }

  // ---- two fingers: pinch zooms about their midpoint, moving the midpoint pans ----------------------
  // One finger paints; a second finger turns the gesture into a view change: whatever the first finger
  // painted since it touched down is taken back, and nothing paints until every finger has left.
  const touches = new Map();
  let pinch = null;
  let touchesSpent = false;

  function touchMidpoint() {
    const [a, b] = pinch.ids.map((id) => touches.get(id));
    return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2, distance: Math.max(1, Math.hypot(a.x - b.x, a.y - b.y)) };
  }

  function beginPinch() {
    abortStroke();
    abortShape();
    pinch = { ids: [...touches.keys()].slice(0, 2), zoom };
    const mid = touchMidpoint();
    Object.assign(pinch, { distance: mid.distance, last: mid });
    touchesSpent = true;
    stage.dataset.gesture = "pinch";
    applyView();
  }

  function movePinch() {
    const mid = touchMidpoint();
    // Pan by the midpoint's move, then zoom about where it is now: the picture point between the fingers stays there.
    panX += mid.x - pinch.last.x;
    panY += mid.y - pinch.last.y;
    pinch.last = mid;
    zoomAt(pinch.zoom * (mid.distance / pinch.distance), mid.x, mid.y);
  }

  function endPinch() {
    pinch = null;
    delete stage.dataset.gesture;
    applyView();
  }

  // A stroke cut short by a second finger leaves the mask as it was before it.
  function abortStroke() {
    if (!stroke) {
      return;
    }
    const cancelled = stroke;
    stroke = null;
    // The finger stays captured (its moves now steer the view) until it leaves the screen.
    for (const tile of cancelled.tiles.values()) {
      writeAlpha(mask, tile.x, tile.y, tile.w, tile.h, tile.alpha);
    }
  }

  // ---- shapes: rectangle and lasso -------------------------------------------------------------
  let shape = null;

  function beginShape(event) {
    const point = toImagePoint(event);
    shape = { pointerId: event.pointerId, erase: event.altKey, points: [point], last: point };
    try {
      stage.setPointerCapture(event.pointerId);
    } catch {
      // See beginStroke.
    }
    drawOutline();
  }

  function moveShape(event) {
    const point = toImagePoint(event);
    if (tool === "rect") {
      shape.points = [shape.points[0], point];
    } else if (Math.hypot(point.x - shape.last.x, point.y - shape.last.y) * viewScale() >= 2) {
      // A point every two screen pixels: smooth outlines without thousands of vertices.
      shape.points.push(point);
      shape.last = point;
    }
    drawOutline();
  }

  function shapePolygon(points) {
    if (tool === "rect") {
      const [a, b = a] = points;
      return [{ x: a.x, y: a.y }, { x: b.x, y: a.y }, { x: b.x, y: b.y }, { x: a.x, y: b.y }];
    }
    return points;
  }

  function drawOutline() {
    const polygon = shape ? shapePolygon(shape.points) : [];
    outline.style.display = polygon.length > 1 ? "" : "none";
    outlineShape.setAttribute("points", polygon.map((p) => `${p.x},${p.y}`).join(" "));
  }

  function abortShape() {
    if (shape) {
      shape = null;
      drawOutline();
    }
  }

  // Fills the rectangle or the closed lasso into the mask (Alt takes it out), as one undo step.
  function endShape() {
    if (!shape) {
      return;
    }
    const finished = shape;
    shape = null;
    drawOutline();
    try {
      if (stage.hasPointerCapture(finished.pointerId)) {
        stage.releasePointerCapture(finished.pointerId);
      }
    } catch {
      // Already released.
    }
    const polygon = shapePolygon(finished.points);
    const xs = polygon.map((p) => p.x);
    const ys = polygon.map((p) => p.y);
    const [left, right, top, bottom] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    if (polygon.length < 3 || right - left < 1 || bottom - top < 1) {
      return;
    }
    const tiles = new Map();
    keepTilesBefore(left, top, right, bottom, tiles);
    mask.save();
    mask.globalCompositeOperation = finished.erase ? "destination-out" : "source-over";
    mask.fillStyle = overlayColor;
    mask.beginPath();
    mask.moveTo(polygon[0].x, polygon[0].y);
    for (const point of polygon.slice(1)) {
      mask.lineTo(point.x, point.y);
    }
    mask.closePath();
    mask.fill();
    mask.restore();
    record({ kind: "tiles", tiles: [...tiles.values()] });
    painted = finished.erase ? null : true;
    notifySoon();
  }

  // ---- history -----------------------------------------------------------------------------
  const undoStack = [];
  const redoStack = [];
  let historyBytes = 0;

  function record(entry) {
    for (const dropped of redoStack.splice(0)) {
      historyBytes -= entryBytes(dropped);
    }
    undoStack.push(entry);
    historyBytes += entryBytes(entry);
    while (undoStack.length > 0 && (undoStack.length > settings.historyLimit || historyBytes > settings.historyBytesLimit)) {
      historyBytes -= entryBytes(undoStack.shift());
    }
  }

  // Undo and redo are the same swap: an entry holds the other side of its tiles, so each stroke is
  // stored once, not as a before and an after. The stack order guarantees the mask is on the right side.
  function swapEntry(entry) {
    if (entry.kind === "invert") {
      invertPixels();
      return;
    }

    for (const tile of entry.tiles) {
      const current = alphaOf(mask.getImageData(tile.x, tile.y, tile.w, tile.h));
      writeAlpha(mask, tile.x, tile.y, tile.w, tile.h, tile.alpha);
      tile.alpha = current;
    }
  }

  function writeAlpha(ctx, x, y, w, h, alpha) {
    const pixels = new ImageData(w, h);
    const [r, g, b] = rgbOf(overlayColor);
    const data = pixels.data;
    for (let i = 0, p = 0; i < alpha.length; i++, p += 4) {
      data[p] = r;
      data[p + 1] = g;
      data[p + 2] = b;
      data[p + 3] = alpha[i];
    }
    ctx.putImageData(pixels, x, y);
  }

  function undo() {
    endStroke();
    const entry = undoStack.pop();
    if (!entry) {
      return false;
    }
    swapEntry(entry);
    redoStack.push(entry);
    painted = null;
    notifySoon();
    return true;
  }

  function redo() {
    endStroke();
    const entry = redoStack.pop();
    if (!entry) {
      return false;
    }
    swapEntry(entry);
    undoStack.push(entry);
    painted = null;
    notifySoon();
    return true;
  }

  // ---- whole-mask actions --------------------------------------------------------------------
  // XOR with an opaque fill turns every alpha a into 255 - a exactly, so invert is its own undo.
  function invertPixels() {
    mask.save();
    mask.globalCompositeOperation = "xor";
    mask.fillStyle = overlayColor;
    mask.fillRect(0, 0, width, height);
    mask.restore();
  }

  function invert() {
    endStroke();
    invertPixels();
    record({ kind: "invert" });
    painted = painted === false ? true : null;
    notifySoon();
  }

  function fillWith(alpha) {
    endStroke();
    if (alpha === 0 && !hasPaint()) {
      return;
    }
    const before = alphaOf(mask.getImageData(0, 0, width, height));
    mask.clearRect(0, 0, width, height);
    if (alpha > 0) {
      mask.fillStyle = overlayColor;
      mask.fillRect(0, 0, width, height);
    }
    record({ kind: "tiles", tiles: [{ x: 0, y: 0, w: width, h: height, alpha: before }] });
    painted = alpha > 0;
    notifySoon();
  }

  // ---- state for .NET ----------------------------------------------------------------------
  // true/false when known; null after actions that may or may not leave paint (eraser, undo, invert).
  let painted = false;
  let notifyTimer = 0;
  let lastNotifiedAt = 0;
  let lastSent = "";

  function hasPaint() {
    if (painted === null) {
      // Band by band, stopping at the first painted pixel: usually far cheaper than reading the whole mask.
      painted = false;
      for (let y = 0; y < height && !painted; y += TILE) {
        const data = mask.getImageData(0, y, width, Math.min(TILE, height - y)).data;
        for (let i = 3; i < data.length; i += 4) {
          if (data[i] !== 0) {
            painted = true;
            break;
          }
        }
      }
    }
    return painted;
  }

  function state() {
    return { canUndo: undoStack.length > 0, canRedo: redoStack.length > 0, painted: hasPaint(), imageError };
  }

  // Throttled: .NET hears about the state at most every NOTIFY_INTERVAL_MS, never per pointer event.
  function notifySoon() {
    if (notifyTimer || disposed || !dotNetRef) {
      return;
    }
    const wait = Math.max(0, lastNotifiedAt + NOTIFY_INTERVAL_MS - performance.now());
    notifyTimer = setTimeout(notifyNow, wait);
  }

  function notifyNow() {
    notifyTimer = 0;
    if (disposed || stroke) {
      return;
    }
    const current = state();
    const json = JSON.stringify(current);
    if (json === lastSent) {
      return;
    }
    lastSent = json;
    lastNotifiedAt = performance.now();
    Promise.resolve(dotNetRef.invokeMethodAsync("OnMaskChanged", current)).catch(() => {
      // The circuit went away; the editor keeps working and the next change tries again.
      lastSent = "";
    });
  }

  // Keyboard shortcuts change the tool and size in the browser; .NET hears of it to keep its toolbar in
  // step. Changes that came from .NET are not echoed back, so a dragged slider never fights a late echo.
  let toolTimer = 0;
  function notifyToolSoon() {
    if (!toolTimer && !disposed && dotNetRef) {
      toolTimer = setTimeout(() => {
        toolTimer = 0;
        if (!disposed && dotNetRef) {
          Promise.resolve(dotNetRef.invokeMethodAsync("OnToolChanged", { tool, brushSize, maskOnly })).catch(() => {});
        }
      }, NOTIFY_INTERVAL_MS / 3);
    }
  }

  let viewTimer = 0;
  let lastView = 0;
  function notifyViewSoon() {
    if (!viewTimer && !disposed && dotNetRef) {
      viewTimer = setTimeout(() => {
        viewTimer = 0;
        const percent = Math.round(viewScale() * 100);
        if (!disposed && dotNetRef && percent !== lastView) {
          lastView = percent;
          Promise.resolve(dotNetRef.invokeMethodAsync("OnViewChanged", percent)).catch(() => {
            lastView = 0;
          });
        }
      }, NOTIFY_INTERVAL_MS);
    }
  }

  // ---- cursor ------------------------------------------------------------------------------
  function drawCursor() {
    const frameRect = hover ? frame.getBoundingClientRect() : null;
    if (!hover || frameRect.width === 0 || tool === "rect" || tool === "lasso" || spaceHeld || pan) {
      cursor.style.display = "none";
      return;
    }
    const diameter = (brushSize * frameRect.width) / width;
    const x = hover.clientX - frameRect.left;
    const y = hover.clientY - frameRect.top;
    Object.assign(cursor.style, {
      display: "block",
      width: `${diameter}px`,
      height: `${diameter}px`,
      transform: `translate(${x - diameter / 2}px, ${y - diameter / 2}px)`,
    });
    cursor.dataset.tool = stroke?.erase ? "eraser" : tool;
  }

  // ---- events ------------------------------------------------------------------------------
  function onPointerDown(event) {
    if (event.pointerType === "touch") {
      touches.set(event.pointerId, { x: event.clientX, y: event.clientY });
      if (touches.size >= 2) {
        event.preventDefault();
        if (!pinch) {
          beginPinch();
        }
        return;
      }
      if (touchesSpent) {
        return;
      }
    }
    // The middle button, or the left one while Space is held, moves the picture instead of painting.
    if (event.isPrimary && event.pointerType === "mouse" && (event.button === 1 || (event.button === 0 && spaceHeld))) {
      event.preventDefault();
      stage.focus({ preventScroll: true });
      endStroke();
      beginPan(event);
      return;
    }
    if (!event.isPrimary || (event.pointerType === "mouse" && event.button !== 0)) {
      return;
    }
    // A mouse press focuses the stage by itself (without a focus ring); pens and fingers need help, and
    // their compatibility mouse events are suppressed so that a tap does not also click.
    if (event.pointerType !== "mouse") {
      event.preventDefault();
      stage.focus({ preventScroll: true });
    }
    endStroke();
    if (tool === "rect" || tool === "lasso") {
      beginShape(event);
      return;
    }
    beginStroke(event);
  }

  function onPointerMove(event) {
    if (event.pointerType !== "touch") {
      hover = { clientX: event.clientX, clientY: event.clientY };
      requestFrame();
    } else if (touches.has(event.pointerId)) {
      touches.set(event.pointerId, { x: event.clientX, y: event.clientY });
      if (pinch) {
        if (pinch.ids.includes(event.pointerId)) {
          movePinch();
        }
        return;
      }
    }
    if (pan && event.pointerId === pan.pointerId) {
      movePan(event);
      return;
    }
    if (shape && event.pointerId === shape.pointerId) {
      moveShape(event);
      return;
    }
    if (stroke && event.pointerId === stroke.pointerId) {
      queuePoints(event);
      return;
    }
    if (tool === "rect" || tool === "lasso" || spaceHeld) {
      return;
    }
    // A press that began elsewhere on the page (not on a control such as a slider) paints from
    // where it enters the editor, as in desktop image editors.
    if (!stroke && event.isPrimary && event.pointerType !== "touch" && (event.buttons & 1) === 1 && !pressStartedOnControl) {
      beginStroke(event);
      stroke.entered = true;
      document.getSelection()?.removeAllRanges();
    }
  }

  function onPointerUp(event) {
    if (event.pointerType === "touch" && touches.delete(event.pointerId)) {
      if (pinch && pinch.ids.includes(event.pointerId)) {
        endPinch();
      }
      if (touches.size === 0) {
        touchesSpent = false;
      }
      if (pinch || touchesSpent) {
        return;
      }
    }
    if (pan && event.pointerId === pan.pointerId) {
      endPan();
      return;
    }
    if (shape && event.pointerId === shape.pointerId) {
      moveShape(event);
      endShape();
      return;
    }
    if (stroke && event.pointerId === stroke.pointerId) {
      queuePoints(event);
      endStroke();
    }
  }

  function onPointerLeave(event) {
    if (event.pointerType !== "touch") {
      hover = null;
      requestFrame();
    }
  }

  function onDocumentPointerDown(event) {
    const target = event.target instanceof Element ? event.target : null;
    pressStartedOnControl = !!target && !stage.contains(target) && !!target.closest(INTERACTIVE_SELECTOR);
  }

  function onKeyDown(event) {
    if (event.key === " " || event.code === "Space") {
      // Held Space turns the pointer into a hand (as in image editors); the page does not scroll.
      event.preventDefault();
      if (!spaceHeld) {
        spaceHeld = true;
        applyView();
      }
      return;
    }
    if (event.altKey) {
      return;
    }
    const key = event.key.toLowerCase();
    const command = event.ctrlKey || event.metaKey;
    let handled = true;
    if (command && key === "z") {
      event.shiftKey ? redo() : undo();
    } else if (command && key === "y") {
      redo();
    } else if (command) {
      handled = false;
    } else if (key === "b") {
      setTool("brush");
      notifyToolSoon();
    } else if (key === "e") {
      setTool("eraser");
      notifyToolSoon();
    } else if (key === "m") {
      setTool("rect");
      notifyToolSoon();
    } else if (key === "l") {
      setTool("lasso");
      notifyToolSoon();
    } else if (key === "0") {
      fitView();
    } else if (key === "1") {
      actualSize();
    } else if (key === "+" || key === "=") {
      zoomBy(ZOOM_STEP);
    } else if (key === "-") {
      zoomBy(1 / ZOOM_STEP);
    } else if (key === "q") {
      setMaskOnly(!maskOnly);
      notifyToolSoon();
    } else if (key === "i") {
      invert();
    } else if (key === "[") {
      setBrushSize(brushSize - sizeStep(brushSize));
      notifyToolSoon();
    } else if (key === "]") {
      setBrushSize(brushSize + sizeStep(brushSize));
      notifyToolSoon();
    } else {
      handled = false;
    }
    if (handled) {
      event.preventDefault();
    }
  }

  const listeners = [
    [stage, "pointerdown", onPointerDown],
    [stage, "pointermove", onPointerMove],
    [stage, "pointerup", onPointerUp],
    [stage, "pointercancel", onPointerUp],
    // A finger still on the screen that lost its capture has not left; its pointerup says when it does.
    [stage, "lostpointercapture", (event) => !(event.pointerType === "touch" && touches.has(event.pointerId)) && onPointerUp(event)],
    [stage, "pointerleave", onPointerLeave],
    [stage, "keydown", onKeyDown],
    [stage, "keyup", onKeyUp],
    [stage, "blur", () => onKeyUp({ key: " " })],
    [stage, "wheel", onWheel, false, false],
    [stage, "contextmenu", (event) => event.preventDefault()],
    [document, "pointerdown", onDocumentPointerDown, true],
  ];
  for (const [target, type, handler, capture, passive] of listeners) {
    target.addEventListener(type, handler, { capture: !!capture, passive: passive === undefined ? undefined : passive });
  }

  function onKeyUp(event) {
    if ((event.key === " " || event.code === "Space") && spaceHeld) {
      spaceHeld = false;
      applyView();
    }
  }

  // ---- public API ----------------------------------------------------------------------------
  function setTool(value) {
    const next = TOOLS.has(value) ? value : "brush";
    if (next !== tool) {
      tool = next;
      requestFrame();
    }
  }

  function setBrushSize(value) {
    const next = Math.round(clamp(Number(value) || brushSize, MIN_BRUSH, maxBrushSize));
    if (next !== brushSize) {
      brushSize = next;
      stamp = null;
      requestFrame();
    }
  }

  function setHardness(value) {
    hardness = clamp(Number(value), 0, 1);
    stamp = null;
  }

  function setOverlayOpacity(value) {
    overlayOpacity = clamp(Number(value), 0, 1);
    if (!maskOnly) {
      maskCanvas.style.opacity = String(overlayOpacity);
    }
  }

  // Recolours the mask in place: source-in keeps every pixel's alpha and replaces its colour.
  function setOverlayColor(value) {
    overlayColor = String(value);
    stamp = null;
    mask.save();
    mask.globalCompositeOperation = "source-in";
    mask.fillStyle = overlayColor;
    mask.fillRect(0, 0, width, height);
    mask.restore();
  }

  // White where the image is repainted, black where it is kept; opaque, the image's size.
  async function exportMaskPng() {
    endStroke();
    const pixels = mask.getImageData(0, 0, width, height);
    const data = pixels.data;
    for (let i = 0; i < data.length; i += 4) {
      const alpha = data[i + 3];
      data[i] = alpha;
      data[i + 1] = alpha;
      data[i + 2] = alpha;
      data[i + 3] = 255;
    }
    const canvas = createCanvas(width, height);
    canvas.getContext("2d").putImageData(pixels, 0, 0);
    return await new Promise((resolve, reject) => {
      canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("The browser could not encode the mask as PNG."))), "image/png");
    });
  }

  // Posts the PNG straight to the server over HTTP, so the mask never travels over the Blazor circuit.
  async function uploadMask(url, antiforgeryToken) {
    const body = await exportMaskPng();
    const headers = { "Content-Type": "image/png", [REQUEST_HEADER]: "mask-editor" };
    if (antiforgeryToken) {
      headers.RequestVerificationToken = antiforgeryToken;
    }
    let response;
    try {
      response = await fetch(url, { method: "POST", body, headers, credentials: "same-origin" });
    } catch {
      throw new Error("The mask could not be sent: the server did not answer. Check the connection and save again.");
    }
    const text = await response.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!response.ok) {
      const reason = json?.detail || json?.title || `the server answered ${response.status}`;
      throw new Error(`The mask was not saved: ${reason}`.replace(/\s+/g, " "));
    }
    return json;
  }

  function showImage(image) {
    if (disposed) {
      return;
    }
    const ctx = imageCanvas.getContext("2d");
    ctx.clearRect(0, 0, width, height);
    ctx.drawImage(image, 0, 0, width, height);
    stage.dataset.ready = "true";
  }

  function loadMask(saved) {
    if (disposed) {
      return;
    }
    const scratch = createCanvas(width, height).getContext("2d", { willReadFrequently: true });
    scratch.drawImage(saved, 0, 0, width, height);
    const grey = scratch.getImageData(0, 0, width, height).data;
    const alpha = new Uint8Array(width * height);
    for (let i = 0, p = 0; i < alpha.length; i++, p += 4) {
      alpha[i] = grey[p];
    }
    writeAlpha(mask, 0, 0, width, height, alpha);
    painted = null;
    stage.dataset.maskRestored = "true";
    notifySoon();
  }

  function showMaskError() {
    if (disposed) {
      return;
    }
    message.textContent = "The saved mask could not be loaded: paint the mask again.";
    message.hidden = false;
  }

  function showImageError(error) {
    if (disposed) {
      return;
    }
    imageError = error instanceof Error ? error.message : String(error);
    message.textContent = imageError;
    message.hidden = false;
    stage.dataset.ready = "error";
    notifySoon();
  }

  function dispose() {
    if (disposed) {
      return;
    }
    disposed = true;
    if (frameRequest) {
      cancelAnimationFrame(frameRequest);
    }
    clearTimeout(notifyTimer);
    clearTimeout(toolTimer);
    clearTimeout(viewTimer);
    for (const [target, type, handler, capture] of listeners) {
      target.removeEventListener(type, handler, { capture: !!capture });
    }
    stage.remove();
    undoStack.length = 0;
    redoStack.length = 0;
    dotNetRef = null;
  }

  const api = Object.freeze({
    setTool,
    setBrushSize,
    setHardness,
    setOverlayOpacity,
    setOverlayColor,
    setMaskOnly,
    fitView,
    actualSize,
    zoomIn: () => zoomBy(ZOOM_STEP),
    zoomOut: () => zoomBy(1 / ZOOM_STEP),
    getView: () => ({ zoom, panX, panY, scale: viewScale() }),
    undo,
    redo,
    invert,
    clear: () => fillWith(0),
    fill: () => fillWith(255),
    hasPaint: () => {
      endStroke();
      return hasPaint();
    },
    getState: () => {
      endStroke();
      return { ...state(), tool, brushSize, hardness, overlayOpacity: Number(maskCanvas.style.opacity) };
    },
    exportMaskPng,
    uploadMask,
    dispose,
    width,
    height,
  });

  // The first state (nothing to undo, nothing painted) tells .NET the editor is live.
  notifySoon();
  return { api, showImage, showImageError, loadMask, showMaskError };
}

// ---- helpers ---------------------------------------------------------------------------------
const IMAGE_NOT_LOADED = "The image could not be loaded. Go back to the Studio and open the mask editor again.";

// Fetched rather than set as an <img> source, so a refusal (a licence that no longer covers the image,
// a mask that is not the user's) is shown with the server's reason instead of a blank picture.
async function loadImage(url) {
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin", cache: "no-cache" });
  } catch {
    throw new Error(IMAGE_NOT_LOADED);
  }
  if (!response.ok) {
    throw new Error((await problemDetail(response)) ?? IMAGE_NOT_LOADED);
  }
  const objectUrl = URL.createObjectURL(await response.blob());
  const image = new Image();
  image.decoding = "async";
  image.src = objectUrl;
  try {
    await image.decode();
    return image;
  } catch {
    throw new Error(IMAGE_NOT_LOADED);
  } finally {
    // A decoded image keeps its pixels; the URL was only needed to get there.
    URL.revokeObjectURL(objectUrl);
  }
}

async function problemDetail(response) {
  if (!(response.headers.get("Content-Type") ?? "").includes("json")) {
    return null;
  }
  try {
    const problem = await response.json();
    const text = typeof problem.detail === "string" && problem.detail ? problem.detail : problem.title;
    return typeof text === "string" && text ? `The image could not be loaded: ${text}` : null;
  } catch {
    return null;
  }
}

function createCanvas(width, height, className) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  if (className) {
    canvas.className = className;
  }
  return canvas;
}

function alphaOf(imageData) {
  const data = imageData.data;
  const alpha = new Uint8Array(data.length / 4);
  for (let i = 0, p = 3; i < alpha.length; i++, p += 4) {
    alpha[i] = data[p];
  }
  return alpha;
}

function entryBytes(entry) {
  return entry.kind === "tiles" ? entry.tiles.reduce((sum, tile) => sum + tile.alpha.byteLength, 0) : 0;
}

function spacing(radius) {
  return Math.max(0.5, radius * STAMP_SPACING);
}

// Bigger steps for bigger brushes, so [ and ] feel the same at 4 px and at 400 px.
function sizeStep(size) {
  return Math.max(1, Math.round(size * 0.1));
}

// Pressure only counts for pens: mice report a constant 0.5 and most touch screens 0 or 1.
function penPressure(event) {
  return event.pointerType === "pen" && event.pressure > 0 ? clamp(event.pressure, 0.1, 1) : 1;
}

function clamp(value, min, max) {
  return Number.isFinite(value) ? Math.min(max, Math.max(min, value)) : min;
}

function positiveInteger(value) {
  const number = Math.floor(Number(value));
  return Number.isFinite(number) && number > 0 ? number : 0;
}

function definedOnly(options) {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined && value !== null));
}

let colourProbe = null;
function rgbOf(colour) {
  colourProbe ??= document.createElement("canvas").getContext("2d", { willReadFrequently: true });
  colourProbe.clearRect(0, 0, 1, 1);
  colourProbe.fillStyle = "#000";
  colourProbe.fillStyle = colour;
  colourProbe.fillRect(0, 0, 1, 1);
  const [r, g, b] = colourProbe.getImageData(0, 0, 1, 1).data;
  return [r, g, b];
}

function withAlpha(colour, alpha) {
  const [r, g, b] = rgbOf(colour);
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}
