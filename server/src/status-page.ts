import { createHash } from 'node:crypto';

// GET /: one plain HTML page, its style and script inline (nothing to build or fetch besides
// /status.json). The script polls /status.json and draws the rate as an inline SVG polyline.

const STYLE = `
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 46rem; padding: 0 1rem; color: #1d2430; background: #fafbfc; }
  h1 { font-size: 1.4rem; margin: 0; } h1 span { font-weight: normal; color: #5b6573; font-size: 1rem; }
  h2 { font-size: 1rem; margin: 1.6rem 0 .5rem; }
  #state { color: #5b6573; margin: .2rem 0 1.2rem; } #state.down { color: #b42318; }
  .tiles { display: grid; grid-template-columns: repeat(4, 1fr); gap: .6rem; }
  .tile { background: #fff; border: 1px solid #dde2e8; border-radius: 6px; padding: .6rem .8rem; }
  .tile b { display: block; font-size: 1.5rem; font-variant-numeric: tabular-nums; }
  .tile small { color: #5b6573; }
  svg { width: 100%; height: 8rem; background: #fff; border: 1px solid #dde2e8; border-radius: 6px; }
  polyline { fill: none; stroke: #2563eb; stroke-width: 1.5; vector-effect: non-scaling-stroke; }
  h2 small { font-weight: normal; color: #5b6573; margin-left: .5rem; }
  .axis { display: flex; justify-content: space-between; color: #5b6573; font-size: .8rem; }
  table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid #dde2e8; }
  th, td { padding: .35rem .7rem; border-bottom: 1px solid #eef1f4; text-align: left; }
  th { font-weight: normal; color: #5b6573; } td { font-variant-numeric: tabular-nums; }
  footer { margin-top: 1.4rem; color: #5b6573; font-size: .85rem; }
`;

const SCRIPT = `
  'use strict';
  const $ = (id) => document.getElementById(id);
  const number = (n) => (n === null ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: n < 10 ? 1 : 0 }));
  const ms = (s) => (s === null ? '–' : (s * 1000).toLocaleString('en-US', { maximumFractionDigits: s < 0.01 ? 2 : 1 }) + ' ms');
  function duration(seconds) {
    const d = Math.floor(seconds / 86400), h = Math.floor(seconds / 3600) % 24, m = Math.floor(seconds / 60) % 60;
    return d > 0 ? d + ' d ' + h + ' h' : h > 0 ? h + ' h ' + m + ' min' : m > 0 ? m + ' min ' + (seconds % 60) + ' s' : seconds + ' s';
  }
  function chart(perSecond, slots) {
    const peak = Math.max(1, ...perSecond);
    const first = slots - perSecond.length;
    $('rate-line').setAttribute('points', perSecond.map((v, i) => ((first + i) * 600 / (slots - 1)).toFixed(1) + ',' + (118 - (v / peak) * 100).toFixed(1)).join(' '));
    $('rate-peak').textContent = '(scale: ' + number(peak) + '/s)';
  }
  async function refresh() {
    try {
      const response = await fetch('/status.json', { cache: 'no-store' });
      if (!response.ok) throw new Error('HTTP ' + response.status);
      const s = await response.json();
      const recent = s.changes.perSecond.slice(-5);
      const rate = recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : 0;
      $('version').textContent = s.version;
      $('uptime').textContent = duration(s.uptimeSeconds);
      $('connections').textContent = number(s.connections);
      $('users').textContent = number(s.usersOnline);
      $('rate').textContent = number(rate);
      chart(s.changes.perSecond, 300 / s.changes.sampleSeconds);
      $('changes').textContent = number(s.changes.total);
      $('batches').textContent = number(s.batches.count);
      $('batch-size').textContent = number(s.batches.meanSize);
      $('batch-time').textContent = ms(s.batches.meanSeconds) + ' (p95 ' + ms(s.batches.p95Seconds) + ')';
      $('latency').textContent = ms(s.mutations.p50Seconds) + ' / ' + ms(s.mutations.p95Seconds) + ' / ' + ms(s.mutations.p99Seconds);
      $('conflicts').textContent = number(s.conflicts);
      $('auth-failures').textContent = number(s.authFailures);
      $('state').textContent = 'updated ' + new Date().toLocaleTimeString('en-US');
      $('state').className = '';
    } catch (err) {
      $('state').textContent = 'cannot reach the server (' + err.message + '); retrying';
      $('state').className = 'down';
    }
  }
  refresh();
  setInterval(refresh, 2000);
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** Only this page's own style and script run, and it talks to nothing but its server. */
export const STATUS_PAGE_CSP = `default-src 'none'; style-src ${sha256(STYLE)}; script-src ${sha256(SCRIPT)}; connect-src 'self'; img-src data:`;

export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sync-server status</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<h1>sync-server <span id="version"></span></h1>
<p id="state">loading…</p>
<div class="tiles">
  <div class="tile"><small>uptime</small><b id="uptime">–</b></div>
  <div class="tile"><small>connections</small><b id="connections">–</b></div>
  <div class="tile"><small>users online</small><b id="users">–</b></div>
  <div class="tile"><small>changes/s, last 5 s</small><b id="rate">–</b></div>
</div>
<h2>Changes committed per second, last 5 minutes <small id="rate-peak"></small></h2>
<svg viewBox="0 0 600 120" preserveAspectRatio="none" role="img" aria-label="changes committed per second over the last five minutes">
  <polyline id="rate-line" points=""></polyline>
</svg>
<div class="axis"><span>5 min ago</span><span>now</span></div>
<h2>Batches and latency since start</h2>
<table>
  <tr><th>changes committed</th><td id="changes">–</td></tr>
  <tr><th>batches committed</th><td id="batches">–</td></tr>
  <tr><th>mean mutations per batch</th><td id="batch-size">–</td></tr>
  <tr><th>mean time to commit a batch</th><td id="batch-time">–</td></tr>
  <tr><th>mutation latency p50 / p95 / p99</th><td id="latency">–</td></tr>
  <tr><th>conflicts</th><td id="conflicts">–</td></tr>
  <tr><th>refused authentications</th><td id="auth-failures">–</td></tr>
</table>
<footer>This process's figures, from the same counters as <a href="/metrics">/metrics</a> (JSON: <a href="/status.json">/status.json</a>); refreshed every 2 s.</footer>
<script>${SCRIPT}</script>
</body>
</html>
`;
