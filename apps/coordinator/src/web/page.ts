/**
 * The web view: one page, no build step. The runs list and a run's tiles follow server-sent events (no
 * polling); tile images are small previews refreshed as chunks progress; finished runs show the mosaic and
 * their statistics against the training image. Kill, pause and resume need the API token when one is set.
 */
export const WEB_PAGE = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>dqs</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font-family: system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #222; }
  header { background: #1f2a44; color: #fff; padding: 10px 20px; display: flex; gap: 20px; align-items: center; }
  header a { color: #cfe0ff; }
  header h1 { font-size: 20px; margin: 0; }
  main { padding: 16px 20px; }
  table { border-collapse: collapse; width: 100%; background: #fff; }
  th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #e3e6eb; font-size: 14px; }
  tr.run { cursor: pointer; }
  tr.run:hover { background: #eef3ff; }
  .bar { background: #e3e6eb; border-radius: 3px; height: 8px; width: 140px; overflow: hidden; display: inline-block; vertical-align: middle; }
  .bar > div, .bar > span { display: block; background: #3b7ddd; height: 100%; }
  .state { font-weight: 600; }
  .state.completed, .state.durable { color: #1a7f37; } .state.failed { color: #c62828; } .state.cancelled { color: #777; }
  .state.paused { color: #b26a00; } .state.blocked { color: #8a56c2; }
  #detail { display: none; }
  .row { display: flex; gap: 24px; flex-wrap: wrap; align-items: flex-start; }
  .grid { display: grid; gap: 3px; background: #fff; padding: 3px; border: 1px solid #d0d4da; }
  .tile { position: relative; background: #dde1e7; }
  .tile img { display: block; width: 100%; height: 100%; image-rendering: pixelated; }
  .tile .label { position: absolute; left: 2px; top: 2px; font-size: 11px; background: rgba(255,255,255,.8); padding: 0 3px; border-radius: 2px; }
  .tile .pbar { position: absolute; left: 0; right: 0; bottom: 0; height: 4px; background: rgba(0,0,0,.15); }
  .tile .pbar > div { height: 100%; background: #3b7ddd; }
  .tile.durable .pbar > div { background: #1a7f37; }
  .tile.failed { outline: 2px solid #c62828; }
  button { padding: 5px 12px; border: 1px solid #9aa4b2; background: #fff; border-radius: 4px; cursor: pointer; }
  button:disabled { opacity: .4; cursor: default; }
  .panel { background: #fff; border: 1px solid #d0d4da; padding: 10px; }
  .muted { color: #666; font-size: 13px; }
  #error { color: #c62828; }
  .downloads a { margin-right: 8px; font-size: 13px; }
  svg text { font-size: 11px; }
</style>
</head>
<body>
<header><h1>dqs</h1><a href="#">runs</a><a href="/queues">Bull Board</a><a href="/docs">API</a><span id="conn" class="muted"></span></header>
<main>
  <div id="list">
    <h2>Runs</h2>
    <p><label>namespace <select id="nsFilter"><option value="">all</option></select></label></p>
    <table><thead><tr><th>run</th><th>namespace</th><th>batch</th><th>state</th><th>progress</th><th>chunks</th><th>age</th></tr></thead><tbody id="runs"></tbody></table>
    <p class="muted" id="empty">No run yet: submit one with <code>dqs dm</code>, the API (<a href="/docs">/docs</a>) or <code>g2s('-a','qs_dm',...)</code>.</p>
  </div>
  <div id="detail">
    <h2 id="title"></h2>
    <p><span id="state" class="state"></span> <span class="bar"><span id="pbar"></span></span> <span id="pct"></span>
      <button id="pause">Pause</button> <button id="resume">Resume</button> <button id="kill">Kill</button> <button id="retry" title="killed chunks go on; a failed or cancelled run resumes its unfinished chunks">Retry</button>
      <span id="error"></span></p>
    <div class="row">
      <div><div class="muted">job grid (live)</div><div id="grid" class="grid"></div></div>
      <div class="panel"><div class="muted">training image of job <span id="tijob"></span> (click a tile for its own)</div><img id="ti" alt="training image" width="200"></div>
      <div class="panel" id="mosaicPanel" style="display:none"><div class="muted">mosaic</div><img id="mosaic" alt="mosaic" width="300">
        <div class="downloads">mosaic: <a id="mnpy">NPY</a><a id="mtiff">TIFF</a><a id="mpng">PNG</a></div></div>
    </div>
    <h3>Chunks</h3>
    <table><thead><tr><th>job</th><th>state</th><th>progress</th><th>download</th></tr></thead><tbody id="chunks"></tbody></table>
    <div id="stats"></div>
  </div>
</main>
<script>
var runsSource = null, runSource = null, current = null, tiles = {}, lastStatus = null;
function token() { return localStorage.getItem('dqsToken') || ''; }
function el(tag, attrs, text) { var e = document.createElement(tag); for (var k in attrs || {}) e.setAttribute(k, attrs[k]); if (text !== undefined) e.textContent = text; return e; }
function bar(p) { var b = el('span', { class: 'bar' }); var d = el('div'); d.style.width = Math.min(100, p) + '%'; b.appendChild(d); return b; }
function age(iso) { var s = (Date.now() - Date.parse(iso)) / 1000; return s < 60 ? Math.round(s) + ' s' : s < 3600 ? Math.round(s / 60) + ' min' : Math.round(s / 3600) + ' h'; }

var lastRuns = [];
function showList(runs) {
  lastRuns = runs;
  var select = document.getElementById('nsFilter'), chosen = select.value;
  var names = runs.map(function (r) { return r.namespace; }).filter(function (n, i, a) { return a.indexOf(n) === i; }).sort();
  if (chosen && names.indexOf(chosen) < 0) names.push(chosen);
  select.innerHTML = '<option value="">all</option>';
  names.forEach(function (n) { select.appendChild(el('option', { value: n }, n)); });
  select.value = chosen;
  var shown = runs.filter(function (r) { return !chosen || r.namespace === chosen; });
  var body = document.getElementById('runs'); body.innerHTML = '';
  document.getElementById('empty').style.display = shown.length ? 'none' : '';
  shown.forEach(function (r) {
    var tr = el('tr', { class: 'run', 'data-run': r.runId });
    tr.appendChild(el('td', {}, r.runId));
    tr.appendChild(el('td', { class: 'ns' }, r.namespace));
    tr.appendChild(el('td', { class: 'batch' }, r.batch));
    tr.appendChild(el('td', { class: 'state ' + r.state }, r.state));
    var td = el('td'); td.appendChild(bar(r.progress)); td.appendChild(document.createTextNode(' ' + r.progress.toFixed(1) + '%')); tr.appendChild(td);
    tr.appendChild(el('td', {}, String(r.jobs)));
    tr.appendChild(el('td', {}, age(r.createdAt)));
    tr.onclick = function () { location.hash = r.runId; };
    body.appendChild(tr);
  });
}

document.getElementById('nsFilter').onchange = function () { showList(lastRuns); };

function connectList() {
  if (runsSource) return;
  runsSource = new EventSource('/v1/events');
  runsSource.onmessage = function (e) { showList(JSON.parse(e.data)); };
  runsSource.onerror = function () { document.getElementById('conn').textContent = 'reconnecting...'; };
  runsSource.onopen = function () { document.getElementById('conn').textContent = ''; };
}

async function act(action) {
  var res = await fetch('/v1/runs/' + current + '/' + action, { method: 'POST', headers: token() ? { Authorization: 'Bearer ' + token() } : {} });
  if (res.status === 401) {
    var t = prompt('This dqs server needs its API token to ' + action + ' runs:');
    if (t) { localStorage.setItem('dqsToken', t); return act(action); }
    return;
  }
  var body = await res.json();
  document.getElementById('error').textContent = res.ok ? '' : (Array.isArray(body.message) ? body.message.join('; ') : body.message);
}
document.getElementById('kill').onclick = function () { if (confirm('Kill run ' + current + '?')) act('kill'); };
document.getElementById('pause').onclick = function () { act('pause'); };
document.getElementById('resume').onclick = function () { act('resume'); };
document.getElementById('retry').onclick = function () { act('retry'); };

function tileSize(cols) { return Math.max(24, Math.min(160, Math.floor(900 / cols))); }

function buildGrid(s) {
  var grid = document.getElementById('grid'); grid.innerHTML = ''; tiles = {};
  var cols = s.gridShape[s.gridShape.length - 1];
  var size = tileSize(cols);
  grid.style.gridTemplateColumns = 'repeat(' + cols + ', ' + size + 'px)';
  s.chunks.forEach(function (c) {
    var t = el('div', { class: 'tile', 'data-job': c.jobId, title: 'job ' + c.jobId });
    t.style.width = size + 'px'; t.style.height = Math.round(size * s.tileShape[s.tileShape.length - 2 >= 0 ? s.tileShape.length - 2 : 0] / s.tileShape[s.tileShape.length - 1]) + 'px';
    var img = el('img', { alt: 'chunk ' + c.jobId }); t.appendChild(img);
    t.onclick = function () { showTi(c.jobId); };
    t.appendChild(el('span', { class: 'label' }, c.jobId));
    var pb = el('div', { class: 'pbar' }); pb.appendChild(el('div')); t.appendChild(pb);
    grid.appendChild(t);
    tiles[c.jobId] = { el: t, img: img, shown: -1, state: '', loading: false, size: size };
  });
}

function showTi(jobId) {
  document.getElementById('tijob').textContent = jobId;
  document.getElementById('ti').src = '/v1/runs/' + current + '/tis/' + jobId + '/preview.png?size=200';
}

function refreshTile(c) {
  var t = tiles[c.jobId]; if (!t) return;
  t.el.className = 'tile ' + c.state;
  t.el.querySelector('.pbar > div').style.width = c.progress + '%';
  t.el.setAttribute('data-state', c.state);
  t.latest = c;
  var due = c.state === 'durable' ? t.state !== 'durable' : c.progress >= t.shown + 5 && c.progress > 0;
  if (!due) return;
  if (t.loading) { t.again = true; return; }
  t.loading = true; t.again = false; t.shown = c.progress; t.state = c.state;
  var img = new Image();
  var done = function (ok) {
    if (ok) { t.img.src = img.src; t.el.setAttribute('data-loaded', c.state); }
    t.loading = false;
    if (t.again || !ok) { if (!ok) { t.state = ''; t.shown = -1; } setTimeout(function () { refreshTile(t.latest); }, ok ? 0 : 1000); }
  };
  img.onload = function () { done(true); };
  img.onerror = function () { done(false); };
  img.src = '/v1/runs/' + current + '/chunks/' + c.jobId + '/preview.png?size=' + t.size + '&t=' + Date.now();
}

function showStatus(s) {
  lastStatus = s;
  document.getElementById('title').textContent = 'run ' + s.runId + ' \u2014 ' + s.namespace + ' / ' + s.batch + ' (' + s.gridShape.join('x') + ' chunks of ' + s.tileShape.join('x') + ')';
  var st = document.getElementById('state'); st.textContent = s.state; st.className = 'state ' + s.state;
  document.getElementById('pbar').style.width = s.progress + '%';
  document.getElementById('pct').textContent = s.progress.toFixed(1) + '%';
  var active = s.state === 'queued' || s.state === 'running';
  document.getElementById('pause').disabled = !active;
  document.getElementById('resume').disabled = s.state !== 'paused';
  document.getElementById('kill').disabled = !(active || s.state === 'paused');
  document.getElementById('retry').disabled = !(s.state === 'failed' || s.state === 'cancelled' || (s.killed && s.killed.length));
  if (s.error) document.getElementById('error').textContent = s.error;
  else document.getElementById('error').textContent = s.waitingFor || '';
  if (Object.keys(tiles).length !== s.chunks.length) buildGrid(s);
  var body = document.getElementById('chunks'); body.innerHTML = '';
  s.chunks.forEach(function (c) {
    refreshTile(c);
    var tr = el('tr', { 'data-job': c.jobId });
    tr.appendChild(el('td', {}, c.jobId));
    tr.appendChild(el('td', { class: 'state ' + c.state }, c.state + (c.error ? ': ' + c.error : '')));
    var td = el('td'); td.appendChild(bar(c.progress)); td.appendChild(document.createTextNode(' ' + c.progress + '%')); tr.appendChild(td);
    var dl = el('td', { class: 'downloads' });
    if (c.state === 'durable') ['npy', 'tiff', 'png'].forEach(function (f) { var a = el('a', { href: '/v1/runs/' + s.runId + '/chunks/' + c.jobId + '?format=' + f, download: '' }, f.toUpperCase()); dl.appendChild(a); });
    tr.appendChild(dl);
    body.appendChild(tr);
  });
  if (s.state === 'completed' && document.getElementById('mosaicPanel').style.display === 'none') showFinished(s);
}

async function showFinished(s) {
  document.getElementById('mosaicPanel').style.display = '';
  document.getElementById('mosaic').src = '/v1/runs/' + s.runId + '/mosaic/preview.png?size=300';
  ['npy', 'tiff', 'png'].forEach(function (f) { var a = document.getElementById('m' + f); a.href = '/v1/runs/' + s.runId + '/mosaic?format=' + f; a.setAttribute('download', ''); });
  var res = await fetch('/v1/runs/' + s.runId + '/stats');
  if (!res.ok) return;
  var r = await res.json();
  var box = document.getElementById('stats'); box.innerHTML = '<h3>Statistics against the training image (window ' + r.window.join('x') + ')</h3>';
  var lines = [];
  if (r.ks !== undefined) lines.push('KS distance of values: ' + r.ks.toFixed(4));
  (r.proportions || []).forEach(function (p) { lines.push('class ' + p.class + ': proportion ' + p.sim.toFixed(3) + ' (TI ' + p.ti.toFixed(3) + ')'); });
  if (r.verbatimAdjacency) lines.push('verbatim adjacency h/v: ' + r.verbatimAdjacency.h.toFixed(3) + ' / ' + r.verbatimAdjacency.v.toFixed(3));
  lines.push('mean ' + r.sim.mean.toFixed(3) + ' / std ' + r.sim.std.toFixed(3) + ' (TI ' + r.ti.mean.toFixed(3) + ' / ' + r.ti.std.toFixed(3) + ')');
  box.appendChild(el('p', { id: 'statsText' }, lines.join(' · ')));
  var row = el('div', { class: 'row' });
  if (r.proportions) row.appendChild(barsPlot(r.proportions));
  if (r.histogram && r.histogram.edges.length) row.appendChild(histogramPlot(r.histogram));
  (r.variograms.length === 2 && r.kind === 'categorical' ? r.variograms.slice(1) : r.variograms).forEach(function (v) { row.appendChild(variogramPlot(v)); });
  box.appendChild(row);
}

function svg(w, h) { var s = document.createElementNS('http://www.w3.org/2000/svg', 'svg'); s.setAttribute('width', w); s.setAttribute('height', h); s.style.background = '#fff'; return s; }
function add(s, tag, attrs, text) { var e = document.createElementNS('http://www.w3.org/2000/svg', tag); for (var k in attrs) e.setAttribute(k, attrs[k]); if (text !== undefined) e.textContent = text; s.appendChild(e); return e; }

function variogramPlot(v) {
  var W = 420, H = 240, s = svg(W, H); s.setAttribute('class', 'variogram');
  var all = v.ti.rows.concat(v.ti.cols, v.sim.rows, v.sim.cols).filter(isFinite);
  var ymax = Math.max.apply(null, all) * 1.05 || 1, n = v.ti.lags.length;
  function px(i) { return 40 + (W - 50) * (v.ti.lags[i] - 1) / Math.max(1, v.ti.lags[n - 1] - 1); }
  function py(y) { return H - 25 - (H - 50) * y / ymax; }
  add(s, 'text', { x: 10, y: 15 }, 'variogram ' + v.label + ' (rel. err. rows ' + v.relErr.rows.toFixed(3) + ', cols ' + v.relErr.cols.toFixed(3) + ')');
  add(s, 'line', { x1: 40, y1: py(0), x2: W - 10, y2: py(0), stroke: '#333' });
  add(s, 'line', { x1: 40, y1: py(0), x2: 40, y2: 25, stroke: '#333' });
  add(s, 'text', { x: W - 60, y: H - 8 }, 'lag (cells)');
  [['rows', '#1f77b4'], ['cols', '#ff7f0e']].forEach(function (d) {
    ['ti', 'sim'].forEach(function (src) {
      var pts = v[src][d[0]].map(function (y, i) { return px(i) + ',' + py(y); }).join(' ');
      var line = add(s, 'polyline', { points: pts, fill: 'none', stroke: d[1], 'stroke-width': 2 });
      if (src === 'sim') line.setAttribute('stroke-dasharray', '5 3');
    });
  });
  add(s, 'text', { x: 50, y: 35 }, 'solid: TI, dashed: simulation; blue: along rows, orange: along cols');
  return s;
}

function histogramPlot(h) {
  var W = 320, H = 240, s = svg(W, H); s.setAttribute('class', 'histogram');
  add(s, 'text', { x: 10, y: 15 }, 'value histogram (blue: TI, red: simulation)');
  var n = h.ti.length, ymax = Math.max.apply(null, h.ti.concat(h.sim)) * 1.1 || 1, bw = (W - 50) / n;
  function py(y) { return H - 25 - (H - 50) * y / ymax; }
  add(s, 'line', { x1: 40, y1: py(0), x2: W - 10, y2: py(0), stroke: '#333' });
  for (var i = 0; i < n; i++) add(s, 'rect', { x: 40 + i * bw, y: py(h.ti[i]), width: Math.max(1, bw - 1), height: py(0) - py(h.ti[i]), fill: '#1f77b4', opacity: 0.6 });
  var pts = h.sim.map(function (y, i) { return (40 + (i + 0.5) * bw) + ',' + py(y); }).join(' ');
  add(s, 'polyline', { points: pts, fill: 'none', stroke: '#d62728', 'stroke-width': 2 });
  add(s, 'text', { x: 40, y: H - 8 }, h.edges[0].toPrecision(3));
  add(s, 'text', { x: W - 50, y: H - 8 }, h.edges[n].toPrecision(3));
  return s;
}

function barsPlot(props) {
  var W = 260, H = 240, s = svg(W, H); s.setAttribute('class', 'proportions');
  add(s, 'text', { x: 10, y: 15 }, 'class proportions (TI / simulation)');
  var bw = (W - 40) / props.length / 2.5;
  props.forEach(function (p, i) {
    var x = 30 + i * bw * 2.5;
    add(s, 'rect', { x: x, y: H - 25 - p.ti * (H - 60), width: bw, height: p.ti * (H - 60), fill: '#1f77b4' });
    add(s, 'rect', { x: x + bw, y: H - 25 - p.sim * (H - 60), width: bw, height: p.sim * (H - 60), fill: '#d62728' });
    add(s, 'text', { x: x, y: H - 8 }, String(p.class));
  });
  return s;
}

function route() {
  if (runSource) { runSource.close(); runSource = null; }
  current = location.hash.replace('#', '') || null;
  document.getElementById('list').style.display = current ? 'none' : '';
  document.getElementById('detail').style.display = current ? 'block' : 'none';
  if (!current) { connectList(); return; }
  tiles = {}; document.getElementById('grid').innerHTML = ''; document.getElementById('stats').innerHTML = '';
  document.getElementById('mosaicPanel').style.display = 'none'; document.getElementById('error').textContent = '';
  runSource = new EventSource('/v1/runs/' + current + '/events');
  runSource.onmessage = function (e) {
    var s = JSON.parse(e.data);
    if (!lastStatus || lastStatus.runId !== s.runId) showTi(s.chunks[0].jobId);
    showStatus(s);
  };
  runSource.addEventListener('problem', function (e) { document.getElementById('error').textContent = JSON.parse(e.data).message; });
}
window.addEventListener('hashchange', route);
route();
</script>
</body>
</html>
`;
