// vellum studio: the gallery at /, and a form, live preview, share previews and snippets at
// /studio/{name}. Everything it knows comes from /studio/api/status; every image and error
// comes from the server, so the page checks nothing the endpoint does not.
'use strict';

const app = document.getElementById('app');
const live = document.getElementById('live');
const problemsBox = document.getElementById('problems');
let status = null;
let view = null;

// ---------- helpers ----------

/** An element with attributes (on* never used: the CSP allows no inline handlers) and children. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

const graphemes = (text) => [...new Intl.Segmenter().segment(text)].length;

async function loadStatus() {
  const response = await fetch('/studio/api/status', { cache: 'no-store' });
  status = await response.json();
  showProblems();
}

function showProblems() {
  const problems = status.status.problems;
  problemsBox.replaceChildren();
  problemsBox.hidden = problems.length === 0;
  if (problems.length === 0) return;
  problemsBox.append(el('h2', { text: problems.length === 1 ? 'A template does not load' : `${problems.length} problems` }));
  if (status.status.stale) {
    problemsBox.append(el('p', { text: 'The last good version keeps rendering until this is fixed.' }));
  }
  for (const problem of problems) problemsBox.append(el('pre', { class: 'problem', text: problem.message }));
}

/** Fetches an image from the studio's render route; returns {url, blob, response} or throws {message}. */
async function renderImage(name, ext, query, signal) {
  const response = await fetch(`/studio/render/${encodeURIComponent(name)}.${ext}?${query}`, { cache: 'no-store', signal });
  if (!response.ok) throw { message: (await response.text()).trim(), status: response.status };
  const blob = await response.blob();
  return { url: URL.createObjectURL(blob), blob, response };
}

function exampleQuery(template, extra = {}) {
  const params = new URLSearchParams(template.examples);
  for (const [key, value] of Object.entries(extra)) params.set(key, value);
  return params.toString();
}

// ---------- gallery ----------

function gallery() {
  document.title = 'vellum studio';
  const grid = el('ul', { class: 'gallery', 'aria-label': 'Templates' });
  app.replaceChildren(el('h1', { text: 'Templates' }), grid);
  const refresh = () => {
    grid.replaceChildren();
    for (const template of status.templates) {
      const count = Object.keys(template.params).length;
      const thumb = el('img', { alt: `${template.name} filled with its examples`, width: 360, height: Math.round(360 * template.height / template.width) });
      const broken = status.status.problems.filter((p) => p.template === template.name);
      grid.append(el('li', { class: 'card' + (broken.length ? ' broken' : '') },
        el('a', { href: `/studio/${encodeURIComponent(template.name)}`, class: 'thumb' }, thumb),
        el('h2', {}, el('a', { href: `/studio/${encodeURIComponent(template.name)}`, text: template.name })),
        el('p', { class: 'muted', text: template.description || '' }),
        el('p', { class: 'meta', text: `${template.width}×${template.height} · ${count} parameter${count === 1 ? '' : 's'}` }),
        broken.map((p) => el('pre', { class: 'problem', text: p.message }))));
      const scale = Math.max(0.1, Math.min(1, 360 / template.width)).toFixed(2);
      renderImage(template.name, 'png', exampleQuery(template, { scale }))
        .then(({ url }) => { thumb.src = url; })
        .catch((error) => thumb.replaceWith(el('p', { class: 'error', text: error.message })));
    }
    const known = new Set(status.templates.map((t) => t.name));
    for (const problem of status.status.problems) {
      if (!problem.template || known.has(problem.template)) continue;
      grid.append(el('li', { class: 'card broken' },
        el('h2', { text: problem.template }),
        el('p', { class: 'meta', text: 'does not load' }),
        el('pre', { class: 'problem', text: problem.message })));
    }
  };
  refresh();
  return { refresh };
}

// ---------- template page ----------

/** The form control for one param; returns {row, read(), write(value), error}. */
function field(name, spec, initial) {
  const id = `f-${name}`;
  const label = el('label', { for: id, text: name + (spec.required ? ' (required)' : '') });
  const help = spec.description ? el('small', { id: `${id}-help`, text: spec.description }) : null;
  const error = el('p', { class: 'error', id: `${id}-error`, 'aria-live': 'polite' });
  const described = [help && `${id}-help`, `${id}-error`].filter(Boolean).join(' ');
  let input;
  let extra = null;
  let read = () => input.value;
  let write = (value) => { input.value = value; };
  switch (spec.type) {
    case 'text': {
      const long = spec.max_chars > 100;
      // maxlength counts UTF-16 units, the server counts characters as a reader does: allow
      // two units a character and let the counter and the server's message speak.
      input = el(long ? 'textarea' : 'input', { id, name, type: long ? null : 'text', rows: long ? 3 : null, maxlength: spec.max_chars * 2, 'aria-describedby': described });
      const counter = el('span', { class: 'counter', 'aria-hidden': 'true' });
      const count = () => {
        const n = graphemes(input.value);
        counter.textContent = `${n} / ${spec.max_chars}`;
        counter.classList.toggle('over', n > spec.max_chars);
      };
      input.addEventListener('input', count);
      write = (value) => { input.value = value; count(); };
      extra = counter;
      break;
    }
    case 'color': {
      input = el('input', { id, name, type: 'text', spellcheck: 'false', placeholder: '#1e40af', 'aria-describedby': described, class: 'hex' });
      const picker = el('input', { type: 'color', 'aria-label': `${name} colour picker` });
      picker.addEventListener('input', () => { input.value = picker.value; input.dispatchEvent(new Event('input', { bubbles: true })); });
      input.addEventListener('input', () => { if (/^#?[0-9a-f]{6}$/i.test(input.value)) picker.value = '#' + input.value.replace('#', ''); });
      write = (value) => { input.value = value; if (/^#?[0-9a-f]{6}$/i.test(value)) picker.value = '#' + value.replace('#', ''); };
      extra = picker;
      break;
    }
    case 'number':
      input = el('input', { id, name, type: 'number', min: spec.min, max: spec.max, step: 'any', 'aria-describedby': described });
      break;
    case 'enum':
      input = el('select', { id, name, 'aria-describedby': described }, spec.values.map((v) => el('option', { value: v, text: v })));
      break;
    case 'bool':
      input = el('input', { id, name, type: 'checkbox', 'aria-describedby': described });
      read = () => (input.checked ? 'true' : 'false');
      write = (value) => { input.checked = ['true', '1', 'yes', 'on'].includes(String(value).toLowerCase()); };
      break;
    default: // image
      input = el('input', { id, name, type: 'url', placeholder: 'https://… or photos/item.jpg', 'aria-describedby': described });
  }
  write(initial ?? '');
  const row = el('div', { class: `field field-${spec.type}` }, label, el('div', { class: 'control' }, input, extra), help, error);
  return { row, read, write, error, spec };
}

function initialValue(spec) {
  if (spec.example !== undefined) return spec.example;
  if (spec.default !== undefined) return String(spec.default);
  return spec.type === 'bool' ? 'false' : '';
}

const SHARES = [
  { name: 'X / Twitter large card', cls: 'x', note: 'cropped to 2:1 from the centre' },
  { name: 'Facebook', cls: 'facebook', note: 'cropped to 1.91:1' },
  { name: 'LinkedIn', cls: 'linkedin', note: 'cropped to 1.91:1' },
  { name: 'Slack unfurl', cls: 'slack', note: 'whole image, at most 360 px wide' },
  { name: 'Discord embed', cls: 'discord', note: 'whole image, at most 400 px wide' },
];

function templatePage(name) {
  document.title = `${name} · vellum studio`;
  let template = null;
  let fields = new Map();
  let paramsShape = '';
  let sequence = 0;
  let shown = 0;
  let inFlight = null;
  let timer = null;
  let imageUrl = null;

  const form = el('form', { class: 'params', 'aria-label': 'Parameters' });
  form.addEventListener('submit', (event) => event.preventDefault());
  const format = el('select', { id: 'o-format' }, ['png', 'jpg', 'webp', 'svg'].map((f) => el('option', { value: f, text: f })));
  const scale = el('select', { id: 'o-scale' }, ['0.5', '1', '2'].map((s) => el('option', { value: s, text: `${s}x`, selected: s === '1' })));
  const size = el('select', { id: 'o-size' });
  const sizeLabel = el('label', { for: 'o-size', text: 'Size' });
  let sizesShape = '';
  const outline = el('input', { id: 'o-outline', type: 'checkbox' });
  const options = el('fieldset', { class: 'options' }, el('legend', { text: 'Output' }),
    sizeLabel, size,
    el('label', { for: 'o-format', text: 'Format' }), format,
    el('label', { for: 'o-scale', text: 'Scale' }), scale,
    el('span', { class: 'check' }, outline, el('label', { for: 'o-outline', text: 'Outline fitted text' })));
  const preview = el('img', { id: 'preview', alt: `${name} preview` });
  const boxes = el('div', { class: 'boxes', 'aria-hidden': 'true' });
  const stage = el('div', { class: 'stage' }, preview, boxes);
  const info = el('p', { id: 'info', class: 'meta', 'aria-live': 'polite' });
  const previewError = el('p', { id: 'preview-error', class: 'error', 'aria-live': 'polite' });
  const shares = el('div', { class: 'shares' });
  const snippets = el('div', { class: 'snippets' });
  const heading = el('h1', { text: name });
  const summary = el('p', { class: 'muted' });
  app.replaceChildren(el('p', {}, el('a', { href: '/', text: '← All templates' })), heading, summary,
    el('div', { class: 'workbench' },
      el('div', { class: 'side' }, form, options),
      el('div', { class: 'main' }, stage, info, previewError,
        el('h2', { text: 'When shared' }), shares,
        el('h2', { text: 'Use it' }), snippets)));

  function query({ withScale = true } = {}) {
    const params = new URLSearchParams();
    for (const [key, f] of fields) {
      const value = f.read();
      // What the server would use anyway stays out of the URL: a default, or nothing given.
      const fallback = f.spec.default === undefined ? '' : String(f.spec.default);
      if (!f.spec.required && value === fallback) continue;
      if (value === '' && f.spec.type !== 'text') continue;
      params.append(key, value);
    }
    if (size.value && size.value !== template.default_size) params.append('size', size.value);
    if (withScale && scale.value !== '1') params.append('scale', scale.value);
    return params.toString();
  }

  // The canvas of the size picked (the template's default size before the list is built).
  function canvas() {
    return (template.sizes && template.sizes[size.value]) || template;
  }

  function buildSizes() {
    const picked = size.value;
    const names = Object.keys(template.sizes || {});
    size.replaceChildren(...names.map((n) => {
      const { width, height } = template.sizes[n];
      return el('option', { value: n, text: `${n} · ${width}×${height}` });
    }));
    size.value = names.includes(picked) ? picked : template.default_size;
    // One size: nothing to pick.
    size.hidden = sizeLabel.hidden = names.length < 2;
  }

  function buildForm() {
    const old = new Map([...fields].map(([k, f]) => [k, f.read()]));
    fields = new Map();
    form.replaceChildren();
    // Required params first, then the rest, each in name order.
    const entries = Object.entries(template.params).sort(([a, x], [b, y]) => (y.required - x.required) || a.localeCompare(b));
    for (const [key, spec] of entries) {
      const f = field(key, spec, old.has(key) ? old.get(key) : initialValue(spec));
      fields.set(key, f);
      form.append(f.row);
    }
  }

  function clearErrors() {
    for (const f of fields.values()) f.error.textContent = '';
    previewError.textContent = '';
  }

  function showError(message) {
    const param = message.split(':')[0];
    if (fields.has(param)) {
      fields.get(param).error.textContent = message;
    } else {
      previewError.textContent = message;
    }
  }

  async function update() {
    const mine = ++sequence;
    if (inFlight) inFlight.abort();
    inFlight = new AbortController();
    const ext = format.value;
    const q = query();
    try {
      const started = performance.now();
      const { url, blob, response } = await renderImage(name, ext, q, inFlight.signal);
      if (mine < shown) return; // a newer answer is already on screen
      shown = mine;
      clearErrors();
      if (imageUrl) URL.revokeObjectURL(imageUrl);
      imageUrl = url;
      preview.src = url;
      await preview.decode().catch(() => {});
      const timing = (response.headers.get('server-timing') || '').match(/dur=([\d.]+);desc="(\w+)"/);
      const took = timing ? `${timing[1]} ms (${timing[2]})` : `${Math.round(performance.now() - started)} ms`;
      info.textContent = `${preview.naturalWidth}×${preview.naturalHeight} · ${(blob.size / 1024).toFixed(1)} KiB · ${took} · ETag ${response.headers.get('etag') || '-'}`;
      drawShares(url);
      drawOutline(q);
      loadSnippets(ext);
    } catch (error) {
      if (error.name === 'AbortError' || mine < shown) return;
      shown = mine;
      clearErrors();
      showError(error.message || String(error));
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(update, 150);
  }

  function drawShares(url) {
    shares.replaceChildren(...SHARES.map((share) => el('figure', { class: `share ${share.cls}` },
      el('div', { class: 'frame' }, el('img', { src: url, alt: `${template.name} as ${share.name}` })),
      el('figcaption', {}, el('strong', { text: share.name }), ` · ${share.note}`))));
  }

  async function drawOutline(q) {
    boxes.replaceChildren();
    if (!outline.checked) return;
    const response = await fetch(`/studio/api/boxes/${encodeURIComponent(name)}?${q}`, { cache: 'no-store' });
    if (!response.ok) return;
    const found = await response.json();
    const { width: w, height: h } = canvas();
    for (const b of found.boxes) {
      const label = `${Math.round(b.font_size * 10) / 10}px · ${b.lines} line${b.lines === 1 ? '' : 's'}${b.truncated ? ' · cut' : ''}`;
      const box = el('div', { class: 'box' + (b.truncated ? ' cut' : ''), title: label }, el('span', { text: label }));
      box.style.left = `${(b.x / w) * 100}%`;
      box.style.top = `${(b.y / h) * 100}%`;
      box.style.width = `${(b.width / w) * 100}%`;
      box.style.height = `${(b.height / h) * 100}%`;
      boxes.append(box);
    }
  }

  async function loadSnippets(ext) {
    const response = await fetch(`/studio/api/snippets/${encodeURIComponent(name)}.${ext}?${query()}`, { cache: 'no-store' });
    if (!response.ok) return;
    const s = await response.json();
    const blocks = [['Image URL', s.url], ['<img> tag', s.img], ['Open Graph meta tags', s.meta], ['Command line', s.cli], ['POST /render', s.curl]];
    snippets.replaceChildren(...blocks.map(([title, text], i) => {
      const code = el('pre', { id: `snippet-${i}` }, el('code', { text }));
      const copy = el('button', { type: 'button', 'aria-describedby': `snippet-${i}`, text: `Copy ${title}` });
      copy.addEventListener('click', () => navigator.clipboard.writeText(text).then(() => { copy.textContent = 'Copied'; }));
      return el('div', { class: 'snippet' }, el('h3', { text: title }), code, copy);
    }));
  }

  function refresh() {
    template = status.templates.find((t) => t.name === name);
    if (!template) {
      const problem = status.status.problems.find((p) => p.template === name);
      previewError.textContent = problem ? problem.message : `no template called ${name}`;
      return;
    }
    summary.textContent = `${template.description || ''} ${template.width}×${template.height}`.trim();
    const sizes = JSON.stringify(template.sizes);
    if (sizes !== sizesShape) {
      sizesShape = sizes;
      buildSizes();
    }
    const shape = JSON.stringify(template.params);
    if (shape !== paramsShape) {
      paramsShape = shape;
      buildForm();
    }
    update();
  }

  form.addEventListener('input', schedule);
  form.addEventListener('change', schedule);
  for (const control of [size, format, scale, outline]) control.addEventListener('change', update);
  refresh();
  return { refresh };
}

// ---------- start ----------

function start() {
  const path = location.pathname;
  view = path.startsWith('/studio/') ? templatePage(decodeURIComponent(path.slice('/studio/'.length))) : gallery();
}

const events = new EventSource('/studio/events');
events.addEventListener('open', () => { live.textContent = 'live: reloads on save'; });
events.addEventListener('error', () => { live.textContent = 'reconnecting…'; });
events.addEventListener('reload', async (event) => {
  await loadStatus();
  live.textContent = `reloaded (version ${event.data})`;
  if (view) view.refresh();
});

loadStatus().then(start).catch((error) => {
  app.replaceChildren(el('p', { class: 'error', text: `cannot reach the studio: ${error}` }));
});
