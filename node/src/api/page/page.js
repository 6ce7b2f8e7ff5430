// Refreshes the status page's figures every 5 s from /page/data (the
// session cookie goes along). Tables change rarely: the page reloads itself
// when their row counts change. No framework, no build step.
"use strict";
(function () {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  function size(n) {
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + units[i];
  }
  function duration(s) {
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    return (d ? d + "days " : "") + (h ? h + "h " : "") + m + "m " + (s % 60) + "s";
  }
  const sizes = new Set(["used", "capacity", "bytes_moved"]);
  let rows = null;
  async function refresh() {
    let d;
    try {
      const r = await fetch("/page/data", { credentials: "same-origin", cache: "no-store" });
      if (r.status === 401) { location.reload(); return; }
      if (!r.ok) return;
      d = await r.json();
    } catch (e) {
      const u = document.querySelector('[data-k="updated"]');
      if (u) u.textContent = "node unreachable, retrying";
      return;
    }
    for (const el of document.querySelectorAll("[data-raw]")) {
      const k = el.dataset.k;
      if (!(k in d)) continue;
      el.dataset.raw = String(d[k]);
      el.textContent = sizes.has(k) ? size(d[k]) : k === "uptime_secs" ? duration(d[k]) : String(d[k]);
    }
    const health = document.querySelector('[data-k="health"]');
    if (health) health.textContent = d.health;
    const score = document.querySelector('[data-k="health_score"]');
    if (score) score.textContent = d.health_score.toFixed(2);
    const now = [d.peers.length, d.events.length, d.backups.length, d.problems.length].join(",");
    if (rows !== null && rows !== now) { location.reload(); return; }
    rows = now;
    const u = document.querySelector('[data-k="updated"]');
    if (u) u.textContent = "updated " + new Date().toLocaleTimeString();
  }
  refresh();
  setInterval(refresh, 5000);
})();
