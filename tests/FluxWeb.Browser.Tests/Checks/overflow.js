// Horizontal overflow on a narrow screen, judged on what the user sees: every run of text (the box
// of its text, not of its element) and every control, picture and icon must lie inside
// - each ancestor that clips or scrolls sideways (else it is cut off, or hidden until scrolled), and
// - its card (a paper, card, alert, dialog, or a table row shown as a card on small screens), or the
//   screen when it is in no card;
// and the page itself must not scroll sideways. Boxes that paint nothing of their own (a grid's
// gutters, an icon button's negative margins) may reach past an edge: nothing is lost there.
() => {
  const describe = el => {
    const parts = [];
    for (let e = el; e && e !== document.body && parts.length < 4; e = e.parentElement) {
      let part = e.tagName.toLowerCase();
      if (e.dataset.testid) part += `[data-testid=${e.dataset.testid}]`;
      else if (e.id) part += `#${e.id}`;
      const classes = [...e.classList].filter(c => !c.startsWith('mud-ripple')).slice(0, 3);
      if (classes.length) part += '.' + classes.join('.');
      if (e.dataset.label) part += `[data-label="${e.dataset.label}"]`;
      parts.unshift(part);
    }
    return parts.join(' > ');
  };
  const shown = el => {
    if (!el.checkVisibility({ opacityProperty: true, visibilityProperty: true })) return false;
    const r = el.getBoundingClientRect();
    return r.width > 1 && r.height > 1;
  };
  const cardSelector = '.mud-paper, .mud-card, .mud-alert, .mud-dialog, .mud-xs-table tr, .mud-sm-table tr, .mud-md-table tr';
  const controlSelector = 'input, select, textarea, button, img, canvas, video, svg, [role=switch], [role=checkbox], .mud-switch-span';

  // The box of an element's own text, or null when it has none.
  const textBox = el => {
    let left = Infinity, right = -Infinity, text = '';
    for (const node of el.childNodes) {
      if (node.nodeType !== Node.TEXT_NODE || !node.textContent.trim()) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const r of range.getClientRects()) {
        if (r.width < 1) continue;
        left = Math.min(left, r.left);
        right = Math.max(right, r.right);
      }
      text += node.textContent;
    }
    return right > left ? { left, right, text: text.trim().replace(/\s+/g, ' ') } : null;
  };

  const viewport = document.documentElement.clientWidth;
  const offenders = [];
  if (document.documentElement.scrollWidth > viewport + 1) {
    offenders.push({ problem: `the page is ${document.documentElement.scrollWidth}px wide on a ${viewport}px screen`, element: 'html', text: '' });
  }

  let checked = 0;
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('[data-overflow-exempt]')) continue;
    // Text anywhere (a button's label too); a control as a whole, its icons and parts with it.
    let box = textBox(el);
    if (!box && el.matches(controlSelector) && !el.parentElement?.closest(controlSelector)) box = el.getBoundingClientRect();
    if (!box || !shown(el)) continue;
    checked++;
    const label = (box.text ?? el.getAttribute('aria-label') ?? el.innerText ?? el.value ?? '').toString().trim().slice(0, 60);

    const card = el.parentElement?.closest(cardSelector);
    let problem = null;
    for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) {
      const overflow = getComputedStyle(e).overflowX;
      if (overflow !== 'visible') {
        const r = e.getBoundingClientRect();
        // The client box: inside the borders, without a vertical scroll bar.
        const innerLeft = r.left + e.clientLeft;
        const innerRight = innerLeft + e.clientWidth;
        const past = Math.max(box.right - innerRight, innerLeft - box.left);
        if (past > 1) {
          const how = overflow === 'auto' || overflow === 'scroll' ? 'hidden until scrolled sideways' : 'cut off';
          problem = `${how} by ${Math.round(past)}px in ${describe(e)}`;
          break;
        }
      }
    }
    if (!problem) {
      const edge = card ? card.getBoundingClientRect() : { left: 0, right: viewport };
      const past = Math.max(box.right - edge.right, edge.left - box.left);
      if (past > 1) problem = `reaches ${Math.round(past)}px past ${card ? `its card (${describe(card)})` : 'the screen'}`;
    }
    if (problem) offenders.push({ problem, element: describe(el), text: label });
  }
  return { checked, offenders };
}
