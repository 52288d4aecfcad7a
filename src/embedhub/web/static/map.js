// The map tab: draws a dataset's 2-D projection with regl-scatterplot (WebGL), PCA first and
// the UMAP layout as soon as the server has it. Hover shows a row's text, a click opens the
// row in the viewer, points can be coloured by a column and search hits highlighted.
// window.embedhubMap exposes the drawn state (what the browser tests read).
(() => {
  'use strict';
  const app = document.getElementById('map-app');
  if (!app) return;
  const d = app.dataset;
  const canvas = document.getElementById('map-canvas');
  const statusEl = document.getElementById('map-status');
  const tip = document.getElementById('map-tip');
  const colorSelect = document.getElementById('map-color');
  const legend = document.getElementById('map-legend');
  const hitsEl = document.getElementById('map-hits');
  const query = new URLSearchParams({ repo: d.repo, commit: d.commit, config: d.config, split: d.split });
  const dataUrl = (what) => `/-/map/${what}?${query}`;
  const PALETTE = ['#4f6bed', '#f97316', '#10b981', '#e11d48', '#8b5cf6', '#0ea5e9', '#eab308',
    '#14b8a6', '#ec4899', '#64748b', '#84cc16', '#a855f7', '#f43f5e', '#06b6d4', '#d97706',
    '#22c55e', '#6366f1', '#fb7185', '#2dd4bf', '#facc15', '#9ca3af', '#c026d3', '#65a30d', '#0284c7'];
  const RAMP = ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#b5de2b', '#fde725'];

  const state = {
    count: 0, view: null, ready: false, status: 'loading', hovered: null, tipText: '', hits: [],
    colorBy: '', error: null,
    screenPosition: (i) => (plot ? plot.getScreenPosition(i) : null),
  };
  window.embedhubMap = state;
  let plot = null;
  let x = null;
  let y = null;
  let labels = null;
  let colors = [];
  let loading = null;

  const getJson = async (url) => {
    const r = await fetch(url, { credentials: 'same-origin' });
    if (!r.ok) throw new Error(`${url.split('?')[0]} answered ${r.status}`);
    return r.json();
  };

  function makePlot(n) {
    const { width, height } = canvas.getBoundingClientRect();
    plot = createScatterplot({
      canvas, width, height,
      backgroundColor: '#fcfcfd',
      pointColor: PALETTE[0],
      pointColorHover: '#111827',
      pointColorActive: '#f97316',
      pointSize: n > 50000 ? 2 : n > 5000 ? 3 : 6,
      pointSizeSelected: 2,
      opacity: n > 50000 ? 0.5 : 0.85,
      lassoOnLongPress: false,
    });
    plot.subscribe('pointOver', showTip);
    plot.subscribe('pointOut', hideTip);
    plot.subscribe('select', ({ points }) => {
      if (points.length === 1) openRow(points[0]);
    });
    window.addEventListener('resize', () => {
      const box = canvas.getBoundingClientRect();
      plot.set({ width: box.width, height: box.height });
    });
  }

  function points() {
    const c = colors.find((col) => col.name === state.colorBy);
    return c ? { x, y, valueA: c.values } : { x, y };
  }

  async function drawView(view) {
    const buffer = await (await fetch(dataUrl(view), { credentials: 'same-origin' })).arrayBuffer();
    const xy = new Float32Array(buffer);
    const n = xy.length / 2;
    const first = plot === null;
    x = new Float32Array(n);
    y = new Float32Array(n);
    for (let i = 0; i < n; i += 1) { x[i] = xy[2 * i]; y[i] = xy[2 * i + 1]; }
    if (first) makePlot(n);
    await plot.draw(points(), { transition: !first && n === state.count, transitionDuration: 700 });
    if (state.hits.length) plot.select(state.hits, { preventEvent: true });
    if (!state.ready) state.firstPaintMs = performance.now();  // since navigation start
    Object.assign(state, { count: n, view, ready: true });
    app.dataset.drawn = view;
  }

  function showTip(i) {
    state.hovered = i;
    const text = labels ? labels[i] : `row ${i}`;
    state.tipText = text;
    tip.textContent = `#${i}  ${text}`;
    const [px, py] = plot.getScreenPosition(i);
    tip.style.left = `${Math.min(px + 12, canvas.clientWidth - 200)}px`;
    tip.style.top = `${py + 12}px`;
    tip.hidden = false;
  }

  function hideTip() {
    state.hovered = null;
    tip.hidden = true;
  }

  function openRow(i) {
    window.location.href = `${d.viewer}?row=${i}#row-${i}`;
  }

  function setColor(name) {
    state.colorBy = name;
    const c = colors.find((col) => col.name === name);
    legend.textContent = '';
    if (!c) {
      plot.set({ colorBy: null, pointColor: PALETTE[0] });
    } else if (c.kind === 'category') {
      plot.set({ colorBy: 'valueA', pointColor: c.categories.map((_, k) => PALETTE[k % PALETTE.length]) });
      c.categories.forEach((label, k) => {
        const item = document.createElement('span');
        const dot = document.createElement('i');
        dot.style.background = PALETTE[k % PALETTE.length];
        item.append(dot, label);
        legend.append(item);
      });
    } else {
      plot.set({ colorBy: 'valueA', pointColor: RAMP });
      legend.textContent = `${c.name}: ${c.range[0]} (dark) – ${c.range[1]} (light)`;
    }
    const type = c && c.kind === 'category' ? 'categorical' : 'continuous';
    plot.draw(points(), { zDataType: type, preventFilterReset: true }).then(() => {
      if (state.hits.length) plot.select(state.hits, { preventEvent: true });
    });
  }

  async function loadExtras() {
    labels = await getJson(dataUrl('labels'));
    colors = await getJson(dataUrl('colors'));
    for (const c of colors) {
      const option = document.createElement('option');
      option.value = c.name;
      option.textContent = c.name;
      colorSelect.append(option);
    }
  }

  function describe(s) {
    const rows = (s.rows || state.count).toLocaleString();
    if (s.status === 'ready') return `${rows} points · UMAP layout of “${s.embedding}” (${s.dims} dimensions)`;
    const pct = Math.round((s.progress || 0) * 100);
    const showing = state.view === 'pca' ? ' — showing a PCA view meanwhile' : '';
    return `Computing the map (${s.stage || 'queued'}, ${pct}%)${showing}`;
  }

  async function poll() {
    let s;
    try {
      s = await getJson(dataUrl('state'));
    } catch (err) {
      state.error = String(err);
      statusEl.textContent = `The map could not be loaded: ${err.message}`;
      return;
    }
    state.status = s.status;
    if (s.status === 'error') {
      state.error = s.message;
      statusEl.textContent = s.message;
      return;
    }
    const best = s.views.includes('umap') ? 'umap' : s.views.includes('pca') ? 'pca' : null;
    if (best && best !== state.view && !loading) {
      loading = drawView(best).then(async () => {
        if (!labels) await loadExtras();
      }).finally(() => { loading = null; });
      await loading;
    }
    statusEl.textContent = describe(s);
    if (s.status !== 'ready' || state.view !== 'umap') setTimeout(poll, 1000);
  }

  colorSelect.addEventListener('change', () => setColor(colorSelect.value));

  document.getElementById('map-search').addEventListener('submit', async (event) => {
    event.preventDefault();
    const q = new FormData(event.target).get('q');
    if (!q || !plot) return;
    const [, id] = d.repo.split(':');
    const params = new URLSearchParams({ repo: id, config: d.config, split: d.split, q });
    try {
      const found = await getJson(`/-/search?${params}`);
      state.hits = found.hits.map((h) => h.row_idx);
      plot.select(state.hits, { preventEvent: true });
      const top = state.hits.length && labels ? `; best: “${labels[state.hits[0]]}”` : '';
      hitsEl.textContent = `${state.hits.length} rows highlighted${top}`;
    } catch (err) {
      hitsEl.textContent = `Search failed: ${err.message}`;
    }
  });

  poll();
})();
