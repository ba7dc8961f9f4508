// WCAG 2 contrast of every piece of visible text on the page, from the browser's computed colours.
// For each element that shows text (its own text nodes, or the value or placeholder of a field) the
// text pixel and the background pixel beside it are composed the way the browser paints them along
// the element's ancestors: each ancestor's background colour, its opacity as a group, the page's
// white canvas underneath. Returns the offenders (below 4.5:1, or 3:1 for large text: at least 24px,
// or 18.66px bold) and the texts it could not judge (a background image or gradient behind them).
// Disabled controls are left out: WCAG does not ask contrast of inactive components.
() => {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 1;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const cache = new Map();
  // Any CSS colour (rgb, hex, color-mix, oklch…) to [r, g, b, a] in 0…1, through the canvas.
  const rgba = css => {
    if (cache.has(css)) return cache.get(css);
    let value;
    const m = /^rgba?\(([^)]+)\)$/.exec(css);
    if (m) {
      const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
      value = [p[0] / 255, p[1] / 255, p[2] / 255, p.length > 3 ? p[3] : 1];
    } else {
      ctx.clearRect(0, 0, 1, 1);
      ctx.fillStyle = '#000';
      ctx.fillStyle = css;
      ctx.fillRect(0, 0, 1, 1);
      const d = ctx.getImageData(0, 0, 1, 1).data;
      value = [d[0] / 255, d[1] / 255, d[2] / 255, d[3] / 255];
    }
    cache.set(css, value);
    return value;
  };
  const premultiply = c => [c[0] * c[3], c[1] * c[3], c[2] * c[3], c[3]];
  const over = (top, bottom) => [0, 1, 2, 3].map(i => top[i] + bottom[i] * (1 - top[3]));
  const scale = (c, k) => c.map(v => v * k);
  const luminance = c => {
    const lin = v => (v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
    return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
  };
  const ratio = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const hex = c => '#' + c.slice(0, 3).map(v => Math.round(v * 255).toString(16).padStart(2, '0')).join('');
  const describe = el => {
    const parts = [];
    for (let e = el; e && e !== document.body && parts.length < 4; e = e.parentElement) {
      let part = e.tagName.toLowerCase();
      if (e.dataset.testid) part += `[data-testid=${e.dataset.testid}]`;
      else if (e.id) part += `#${e.id}`;
      const classes = [...e.classList].filter(c => !c.startsWith('mud-ripple')).slice(0, 3);
      if (classes.length) part += '.' + classes.join('.');
      parts.unshift(part);
    }
    return parts.join(' > ');
  };

  const disabled = el => el.closest('[disabled], [aria-disabled=true], .mud-disabled, .mud-button-disabled, fieldset:disabled') !== null;
  const shown = el => {
    if (!el.checkVisibility({ opacityProperty: true, visibilityProperty: true, contentVisibilityAuto: true })) return false;
    const r = el.getBoundingClientRect();
    // Screen-reader-only text is clipped to a pixel.
    return r.width > 1 && r.height > 1;
  };

  // The pixel of [text] painted over the element's own chain of backgrounds, on the white canvas.
  const compose = (chain, text) => {
    let inner = text;
    for (let i = chain.length - 1; i >= 0; i--) {
      const layer = chain[i];
      inner = scale(over(inner, premultiply(layer.background)), layer.opacity);
    }
    const pixel = over(inner, [1, 1, 1, 1]);
    return pixel.slice(0, 3).concat(1);
  };

  const offenders = [];
  const undecided = [];
  let checked = 0;
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('svg, script, style, noscript, template, [data-contrast-exempt]')) continue;
    const field = el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement;
    let text = '';
    let pseudo = null;
    if (field) {
      if (['hidden', 'checkbox', 'radio', 'file', 'range', 'color'].includes(el.type)) continue;
      text = el.value.trim();
      if (!text && el.placeholder) {
        text = el.placeholder.trim();
        pseudo = '::placeholder';
      }
    } else {
      for (const node of el.childNodes) {
        if (node.nodeType === Node.TEXT_NODE) text += node.textContent;
      }
      text = text.trim();
    }
    if (!text || !shown(el) || disabled(el)) continue;

    const style = getComputedStyle(el, pseudo);
    const own = getComputedStyle(el);
    const fill = style.webkitTextFillColor && style.webkitTextFillColor !== style.color ? style.webkitTextFillColor : style.color;
    const colour = rgba(fill);
    if (colour[3] === 0) continue;

    const chain = [];
    let unknown = null;
    for (let e = el; e; e = e.parentElement) {
      const s = e === el ? own : getComputedStyle(e);
      chain.unshift({ background: rgba(s.backgroundColor), opacity: Number(s.opacity) });
      if (s.backgroundImage !== 'none' && !unknown) {
        // An image or gradient behind the text: unless an opaque colour lies between, it decides.
        const opaqueBetween = chain.slice(1).some(l => l.background[3] === 1);
        if (!opaqueBetween) unknown = describe(e);
      }
    }
    const textPixel = compose(chain, premultiply(colour));
    const backgroundPixel = compose(chain, [0, 0, 0, 0]);
    const size = parseFloat(own.fontSize);
    const bold = Number(own.fontWeight) >= 700;
    const large = size >= 24 || (size >= 18.66 && bold);
    const needed = large ? 3 : 4.5;
    const found = ratio(textPixel, backgroundPixel);
    checked++;
    const entry = {
      text: text.length > 60 ? text.slice(0, 57) + '…' : text,
      element: describe(el),
      foreground: hex(textPixel),
      background: hex(backgroundPixel),
      ratio: Math.round(found * 100) / 100,
      needed,
      fontSize: size,
      bold,
    };
    if (unknown) {
      undecided.push({ ...entry, backgroundImageOn: unknown });
    } else if (found < needed - 0.005) {
      offenders.push(entry);
    }
  }
  return { checked, offenders, undecided };
}
