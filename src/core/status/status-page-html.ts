import { createHash } from 'node:crypto';

/**
 * The status page: one HTML document with its style and script inline, so it works on a site
 * without internet access and needs nothing but the admin listener. The script only ever puts
 * data into the page with `textContent` (device identities, paths and user agents are chosen by
 * whoever is on the device network), and the Content-Security-Policy allows exactly these two
 * inline blocks by hash (https://www.w3.org/TR/CSP3/#grammardef-hash-source), no other script,
 * style, image, frame or form.
 */

const STYLE = `
:root{color-scheme:light dark;--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--muted:#6e7781;--line:#d0d7de}
body{font:14px/1.4 system-ui,sans-serif;margin:0 1rem 2rem}
header{display:flex;gap:1rem;align-items:baseline;flex-wrap:wrap;border-bottom:1px solid var(--line);padding:.5rem 0}
h1{font-size:1.2rem;margin:0}h2{font-size:1rem;margin:1.2rem 0 .4rem}
.muted{color:var(--muted)}.ok{color:var(--ok);font-weight:600}.bad{color:var(--bad);font-weight:600}.warn{color:var(--warn);font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(22rem,1fr));gap:0 2rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.15rem .8rem;margin:0}dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:.2rem .5rem;border-bottom:1px solid var(--line);vertical-align:top;overflow-wrap:anywhere}
th{color:var(--muted);font-weight:600;white-space:nowrap}td.nowrap{white-space:nowrap}progress{width:8rem}
`;

const SCRIPT = `
'use strict';
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  function bytes(n) {
    if (n === null || n === undefined) return '–';
    var i = 0, v = n;
    while (v >= 1024 && i < UNITS.length - 1) { v /= 1024; i++; }
    return (i === 0 ? String(v) : v.toFixed(1)) + ' ' + UNITS[i];
  }
  function ago(iso) {
    if (!iso) return '–';
    var s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 90) return s + ' s ago';
    if (s < 5400) return Math.round(s / 60) + ' min ago';
    return new Date(iso).toLocaleString();
  }
  function text(id, value, cls) {
    var el = $(id);
    el.textContent = value === null || value === undefined || value === '' ? '–' : String(value);
    el.className = cls || '';
  }
  function cell(tr, value, title) {
    var td = document.createElement('td');
    td.textContent = value === null || value === undefined || value === '' ? '–' : String(value);
    if (title) td.title = title;
    tr.appendChild(td);
    return td;
  }
  function bar(tr, done, total) {
    var td = document.createElement('td');
    var p = document.createElement('progress');
    if (total) { p.max = total; p.value = Math.min(done, total); }
    td.appendChild(p);
    tr.appendChild(td);
  }
  function rows(id, items, fill, empty) {
    var body = $(id);
    var list = items.map(function (item) { var tr = document.createElement('tr'); fill(tr, item); return tr; });
    if (list.length === 0) {
      var tr = document.createElement('tr');
      var td = cell(tr, empty);
      td.colSpan = body.parentNode.querySelectorAll('th').length;
      td.className = 'muted';
      list.push(tr);
    }
    body.replaceChildren.apply(body, list);
  }
  function name(item) { return item.artifactName || item.artifactId || item.key; }
  function progress(done, total) {
    return bytes(done) + ' / ' + bytes(total) + (total ? ' (' + Math.floor((100 * done) / total) + ' %)' : '');
  }

  function render(s) {
    text('version', 'mender-gw ' + s.version);
    text('generated', 'updated ' + new Date(s.generatedAt).toLocaleTimeString());
    text('draining', s.draining ? 'DRAINING' : 'serving', s.draining ? 'warn' : 'ok');
    var up = s.upstream;
    text('up-state', up ? (up.reachable ? 'reachable' : 'unreachable') : null, up && up.reachable ? 'ok' : 'bad');
    text('up-url', up && up.url);
    text('up-latency', up && up.latencyMs !== null ? up.latencyMs.toFixed(1) + ' ms' : null);
    text('up-checked', up && ago(up.checkedAt));
    text('up-error', up && up.lastError, up && up.lastError ? 'bad' : '');
    var m = s.management;
    text('mgmt', m ? (m.loggedIn ? 'logged in' : 'not logged in') : 'mTLS off', m ? (m.loggedIn ? 'ok' : 'bad') : 'muted');
    text('mgmt-error', m && m.lastError, m && m.lastError ? 'bad' : '');
    var c = s.cache;
    text('cache-state', c ? (c.fault ? 'fault: ' + c.fault.code + ' ' + c.fault.message : 'ok') : 'cache off', c ? (c.fault ? 'bad' : 'ok') : 'muted');
    text('cache-used', c && bytes(c.usedBytes) + ' in ' + c.entries + ' entries');
    text('cache-free', c && bytes(c.freeBytes) + ' free of ' + bytes(c.volumeBytes));
    text('cache-ratio', c && c.hitRatio !== null ? Math.round(c.hitRatio * 100) + ' %' : null);
    text('cache-lookups', c && c.lookups.hit + ' hit, ' + c.lookups.miss + ' miss, ' + c.lookups.coalesced + ' joined, ' + c.lookups.bypass + ' bypass');
    text('cache-served', c && bytes(c.bytesFromCache));
    text('cache-fetched', c && bytes(c.bytesFetched));
    text('cache-saved', c && bytes(c.bytesSaved));
    rows('fills', s.fills, function (tr, f) {
      cell(tr, name(f), f.key);
      cell(tr, progress(f.written, f.size));
      bar(tr, f.written, f.size);
      cell(tr, ago(f.startedAt), f.startedAt);
    }, 'no fill running');
    $('artifacts-count').textContent = s.artifactsTotal > s.artifacts.length ? '(' + s.artifacts.length + ' of ' + s.artifactsTotal + ' shown)' : '(' + s.artifactsTotal + ')';
    rows('artifacts', s.artifacts, function (tr, a) {
      cell(tr, name(a), a.key);
      cell(tr, a.artifactId);
      cell(tr, bytes(a.size), a.size + ' bytes');
      cell(tr, a.state === 'filling' ? 'filling ' + progress(a.written, a.size) : 'complete');
      cell(tr, a.lastUsedAt ? ago(a.lastUsedAt) : null, a.lastUsedAt || '');
      cell(tr, a.hits);
    }, c ? 'the cache is empty' : 'the cache is off');
    $('devices-count').textContent = '(' + s.devices.length + ')';
    rows('devices', s.devices, function (tr, d) {
      cell(tr, d.identity || '(no token)');
      cell(tr, d.address).className = 'nowrap';
      cell(tr, d.lastCall, d.userAgent || '');
      cell(tr, d.lastStatus === null ? 'running' : d.lastStatus);
      cell(tr, ago(d.lastSeenAt), d.lastSeenAt);
      var dl = d.download;
      cell(tr, dl ? name(dl) + ' (' + dl.cache + '): ' + dl.state + ' ' + progress(dl.bytes, dl.size) : null);
    }, 'no device seen yet');
    rows('errors', s.errors, function (tr, e) {
      cell(tr, new Date(e.at).toLocaleTimeString(), e.at);
      cell(tr, e.status);
      cell(tr, e.code, e.message);
      cell(tr, e.method + ' ' + e.path);
      cell(tr, e.identity || e.address);
      cell(tr, e.message);
    }, 'no error');
  }

  function connection(mode, cls) { text('connection', mode, cls); }
  var polling = false;
  function poll() {
    if (polling) return;
    polling = true;
    var tick = function () {
      fetch('status.json', { cache: 'no-store' })
        .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
        .then(function (s) { render(s); connection('polling', 'warn'); }, function () { connection('gateway unreachable', 'bad'); })
        .then(function () { setTimeout(tick, 2000); });
    };
    tick();
  }
  var failures = 0;
  try {
    var es = new EventSource('status/events');
    es.onmessage = function (ev) { failures = 0; render(JSON.parse(ev.data)); connection('live', 'ok'); };
    es.onerror = function () {
      failures++;
      if (es.readyState === EventSource.CLOSED || failures >= 3) { es.close(); poll(); }
      else connection('reconnecting', 'warn');
    };
  } catch (e) {
    poll();
  }
})();
`;

const BODY = `<header><h1>mender-gw status</h1><span id="version"></span><span id="draining"></span>
<span id="connection" class="muted">connecting</span><span id="generated" class="muted"></span></header>
<div class="grid">
<section id="panel-upstream"><h2>Upstream</h2><dl>
<dt>Link</dt><dd id="up-state"></dd><dt>Server</dt><dd id="up-url"></dd>
<dt>Latency</dt><dd id="up-latency"></dd><dt>Checked</dt><dd id="up-checked"></dd>
<dt>Last error</dt><dd id="up-error"></dd>
<dt>Management login</dt><dd id="mgmt"></dd><dt>Login error</dt><dd id="mgmt-error"></dd></dl></section>
<section id="panel-cache"><h2>Cache</h2><dl>
<dt>Volume</dt><dd id="cache-state"></dd><dt>Used</dt><dd id="cache-used"></dd><dt>Free</dt><dd id="cache-free"></dd>
<dt>Hit ratio</dt><dd id="cache-ratio"></dd><dt>Lookups</dt><dd id="cache-lookups"></dd>
<dt>Served by the cache</dt><dd id="cache-served"></dd><dt>Fetched upstream</dt><dd id="cache-fetched"></dd>
<dt>Saved on the uplink</dt><dd id="cache-saved"></dd></dl></section>
</div>
<section id="panel-fills"><h2>Fills in progress</h2><table><thead><tr><th>Artifact</th><th>Progress</th><th></th><th>Started</th></tr></thead><tbody id="fills"></tbody></table></section>
<section id="panel-artifacts"><h2>Artifacts in the cache <span id="artifacts-count" class="muted"></span></h2><table><thead><tr><th>Name</th><th>Id</th><th>Size</th><th>State</th><th>Last used</th><th>Hits</th></tr></thead><tbody id="artifacts"></tbody></table></section>
<section id="panel-devices"><h2>Devices seen recently <span id="devices-count" class="muted"></span></h2><table><thead><tr><th>Identity (unverified)</th><th>Address</th><th>Last call</th><th>Status</th><th>Seen</th><th>Download</th></tr></thead><tbody id="devices"></tbody></table></section>
<section id="panel-errors"><h2>Recent errors</h2><table><thead><tr><th>Time</th><th>Status</th><th>Code</th><th>Request</th><th>Device</th><th>Message</th></tr></thead><tbody id="errors"></tbody></table></section>`;

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>mender-gw status</title><style>${STYLE}</style></head>
<body>${BODY}<script>${SCRIPT}</script></body></html>
`;

/** Everything but the two inline blocks is refused; `connect-src` for the event stream and polling. */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
