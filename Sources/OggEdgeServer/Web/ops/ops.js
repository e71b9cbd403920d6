// OggEdge ops page: polls GET /admin/live every second and /admin/streams every two with the
// Bearer token entered once (kept in sessionStorage for this tab); purges and prewarms through
// DELETE /admin/cache/{name} and POST /admin/prewarm. Charts are hand-written SVG.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const KEY = "oggedge-admin-token";
  const HISTORY = 120; // points kept per chart (two minutes at one poll a second)
  const series = { ttfb: [], start: [], bytes: [], hit: [] };
  let token = sessionStorage.getItem(KEY) || "";
  let last = null;
  let timer = null;
  let polls = 0;

  const human = (n) => {
    if (n == null) return "—";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(Math.round(n))) + " " + units[i];
  };
  const ms = (v) => (v == null ? "—" : v < 10 ? v.toFixed(2) : v.toFixed(1));

  async function api(path, options) {
    const res = await fetch(path, Object.assign({ headers: { Authorization: "Bearer " + token } }, options || {}));
    if (res.status === 401) { disconnect("token refused (401)"); throw new Error("unauthorized"); }
    return res;
  }

  function disconnect(why) {
    clearInterval(timer);
    timer = null;
    sessionStorage.removeItem(KEY);
    $("conn").textContent = why;
    $("conn").className = "error";
    $("board").hidden = true;
  }

  function push(list, value) { list.push(value); if (list.length > HISTORY) list.shift(); }

  // A line chart: lines = [{cls, values}], one point per poll, y from 0 to the max seen.
  function chart(svg, lines, unit) {
    const W = 600, H = 160, L = 44, B = 16;
    const all = lines.flatMap((l) => l.values.filter((v) => v != null));
    const max = Math.max(1e-9, ...all) * 1.15;
    let out = "";
    for (let i = 0; i <= 4; i++) {
      const y = (H - B) - ((H - B - 6) * i) / 4;
      const v = (max * i) / 4;
      out += `<line class="grid" x1="${L}" x2="${W}" y1="${y}" y2="${y}"/><text x="2" y="${y + 3}">${unit === "B" ? human(v) : unit === "%" ? Math.round(v * 100) + "%" : ms(v)}</text>`;
    }
    for (const line of lines) {
      let d = "";
      line.values.forEach((v, i) => {
        if (v == null) return;
        const x = L + ((W - L) * i) / (HISTORY - 1);
        const y = (H - B) - ((H - B - 6) * v) / max;
        d += (d ? "L" : "M") + x.toFixed(1) + "," + y.toFixed(1);
      });
      out += `<path class="${line.cls}" d="${d}"/>`;
    }
    const legend = lines.filter((l) => l.name).map((l) => `<tspan class="lg-${l.cls}">■ ${l.name}</tspan>`).join("  ");
    if (legend) out += `<text x="${L}" y="${H - 2}" xml:space="preserve">${legend}</text>`;
    svg.innerHTML = out;
  }

  function bars(el, entries, fmt) {
    const max = Math.max(1, ...entries.map((e) => e[1]));
    el.innerHTML = entries.length ? "" : '<span class="muted">none yet</span>';
    for (const [name, n] of entries) {
      const row = document.createElement("div");
      row.className = "row";
      row.innerHTML = `<span class="k"></span><div><div class="fill" style="width:${(100 * n) / max}%"></div></div><span class="n">${fmt ? fmt(n) : n}</span>`;
      row.querySelector(".k").textContent = name;
      row.dataset.key = name;
      el.appendChild(row);
    }
  }

  function render(live) {
    const now = live.now_ms;
    let rate = null;
    if (last && now > last.now_ms) rate = ((live.bytes_total - last.bytes_total) * 1000) / (now - last.now_ms);
    last = live;
    push(series.ttfb, live.all.ttfb_ms);
    push(series.start, live.all.playback_start_ms);
    push(series.bytes, rate);
    push(series.hit, live.hit_ratio);
    const pick = (list, k) => list.map((p) => (p ? p[k] : null));
    chart($("chart-ttfb"), ["p50", "p95", "p99"].map((k) => ({ cls: k, name: k, values: pick(series.ttfb, k) })), "ms");
    chart($("chart-start"), ["p50", "p95", "p99"].map((k) => ({ cls: k, name: k, values: pick(series.start, k) })), "ms");
    chart($("chart-bytes"), [{ cls: "v", name: "", values: series.bytes }], "B");
    chart($("chart-hit"), [{ cls: "p50", name: "", values: series.hit }], "%");

    $("hit-ratio").textContent = live.hit_ratio == null ? "—" : (live.hit_ratio * 100).toFixed(1) + " %";
    $("bytes-rate").textContent = rate == null ? "—" : human(rate) + "/s";
    $("bytes-total").textContent = human(live.bytes_total);
    const responses = Object.values(live.responses_by_status).reduce((a, b) => a + b, 0);
    $("responses-total").textContent = String(responses);
    $("transcodes").textContent = `${live.transcodes.running} / ${live.transcodes.queued}`;
    const c = live.cache;
    $("cache-text").textContent = `${human(c.bytes)} of ${human(c.max_bytes)}`;
    $("cache-bar").style.width = c.max_bytes ? Math.min(100, (100 * c.bytes) / c.max_bytes) + "%" : "0";

    const rows = Object.entries(live.latency).map(([cache, l]) => {
      const t = l.ttfb_ms || {}, s = l.playback_start_ms || {};
      return `<tr><td>${cache}</td><td>${l.responses}</td><td>${ms(t.p50)}</td><td>${ms(t.p95)}</td><td>${ms(t.p99)}</td><td>${ms(s.p50)}</td><td>${ms(s.p95)}</td><td>${ms(s.p99)}</td></tr>`;
    });
    $("latency").innerHTML = rows.join("") || '<tr><td colspan="8" class="muted">no audio responses in the last minute</td></tr>';
    bars($("by-status"), Object.entries(live.responses_by_status).sort());
    bars($("refusals"), Object.entries(live.refusals_by_reason).sort((a, b) => b[1] - a[1]));
    bars($("top-tracks"), live.top_tracks.map((t) => [t.track, t.bytes]), human);
  }

  async function poll() {
    try {
      const res = await api("/admin/live");
      if (!res.ok) throw new Error("HTTP " + res.status);
      render(await res.json());
      if (polls++ % 2 === 0) {
        const s = await api("/admin/streams");
        if (s.ok) bars($("streams"), Object.entries(await s.json()).sort((a, b) => b[1] - a[1]));
        else $("streams").innerHTML = `<span class="muted">${s.status === 404 ? "needs Redis" : "Redis unavailable"}</span>`;
      }
      $("conn").textContent = "live · updated " + new Date().toLocaleTimeString();
      $("conn").className = "muted";
    } catch (e) {
      if (timer) { $("conn").textContent = "poll failed: " + e.message; $("conn").className = "error"; }
    }
  }

  async function connect() {
    const res = await fetch("/admin/stats", { headers: { Authorization: "Bearer " + token } }).catch(() => null);
    if (!res || !res.ok) { disconnect(res ? `token refused (${res.status})` : "server unreachable"); return; }
    sessionStorage.setItem(KEY, token);
    $("board").hidden = false;
    $("login").hidden = true;
    poll();
    timer = setInterval(poll, 1000);
  }

  $("login").addEventListener("submit", (e) => { e.preventDefault(); token = $("token").value.trim(); connect(); });

  $("purge-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = $("purge-input").value.trim();
    if (!name) return;
    $("purge-result").textContent = "purging…";
    const res = await api("/admin/cache/" + encodeURIComponent(name), { method: "DELETE" });
    const body = await res.json().catch(() => ({}));
    $("purge-result").textContent = res.ok ? `purged ${name}: ${body.purged} rendition(s) removed` : `purge failed: ${body.error || res.status}`;
    $("purge-result").className = res.ok ? "muted" : "error";
  });

  $("prewarm-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    let tracks = $("prewarm-input").value.split(",").map((s) => s.trim()).filter(Boolean);
    if (!tracks.length) tracks = (await (await api("/admin/tracks")).json()).tracks.map((t) => t.id);
    const kbps = [...document.querySelectorAll('input[name="kbps"]:checked')].map((i) => Number(i.value));
    const res = await api("/admin/prewarm", {
      method: "POST", headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
      body: JSON.stringify({ tracks, kbps, heads: $("prewarm-heads").checked }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) { $("prewarm-result").textContent = "prewarm refused: " + (body.error || res.status); return; }
    const follow = async () => {
      const job = await (await api(body.status)).json();
      $("prewarm-bar").style.width = (job.total ? (100 * job.done) / job.total : 100) + "%";
      $("prewarm-result").textContent = `${body.job}: ${job.done}/${job.total} renditions, ${human(job.bytes)}, ${job.state}` +
        (job.failed.length ? `, failed: ${job.failed.join("; ")}` : "");
      if (job.state !== "finished") setTimeout(follow, 500);
    };
    follow();
  });

  if (token) { $("token").value = token; connect(); }
})();
