// OggEdge reference player: uses only GET /stream/{trackId}, the signed audio URL it returns,
// POST /events/playback, GET /player/tracks.json and (quick start only) POST /player/demo-login.
// Page options (query string): api=ORIGIN (OggEdge on another origin), demo=1 (sign in as a demo
// user when there is no session), connection=3g (override navigator.connection.effectiveType),
// autoplay=ID (play that track on load).
"use strict";
(() => {
  const params = new URLSearchParams(location.search);
  const API = (params.get("api") || "").replace(/\/+$/, "");
  const RATES = [320, 160, 96];
  const PREFETCH_SECONDS = 10;
  const $ = (id) => document.getElementById(id);
  const state = {
    tracks: [], index: -1, audio: null, url: null, quality: null, cap: null, playId: null, seq: 0,
    tapAt: 0, started: false, nextProgress: 15000, stallTimer: null, stalls: 0, prefetch: null,
    plays: [], userPaused: false,
  };
  window.oggedgePlayer = state; // for tests and curious people

  const connectionType = () => params.get("connection") || (navigator.connection && navigator.connection.effectiveType) || "";
  const setStatus = (text, error) => { $("status").textContent = text; $("status").className = "status" + (error ? " error" : ""); };
  const fmt = (s) => (isFinite(s) ? `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}` : "live");
  const ICONS = {
    play: '<svg viewBox="0 0 16 16" width="16" height="16"><path d="M4 2v12l10-6z" fill="currentColor"/></svg>',
    pause: '<svg viewBox="0 0 16 16" width="16" height="16"><path d="M3 2h4v12H3zM9 2h4v12H9z" fill="currentColor"/></svg>',
  };
  const showPlaying = (playing) => {
    $("play-pause").innerHTML = playing ? ICONS.pause : ICONS.play;
    $("play-pause").setAttribute("aria-label", playing ? "pause" : "play");
  };
  const absolute = (url) => (/^https?:/.test(url) ? url : API + url);
  const newPlayId = () => "p" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);

  class StreamError extends Error { constructor(status, reason) { super(reason); this.status = status; } }

  async function fetchStream(trackId) {
    const headers = {};
    const ct = connectionType();
    if (ct) headers["X-Connection-Type"] = ct;
    const res = await fetch(`${API}/stream/${encodeURIComponent(trackId)}`, { credentials: "include", headers });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new StreamError(res.status, body.error || `HTTP ${res.status}`);
    return body;
  }

  async function demoLogin() {
    const free = $("demo-free").checked ? "?premium=false" : "";
    const res = await fetch(`${API}/player/demo-login${free}`, { method: "POST", credentials: "include" });
    if (!res.ok) throw new Error("demo login refused (" + res.status + ")");
    const who = await res.json();
    $("session").textContent = `demo user ${who.userId} (${who.isPremium ? "premium" : "free"})`;
    $("signin").hidden = true;
    return who;
  }

  async function streamWithSession(trackId) {
    try {
      const info = await fetchStream(trackId);
      if ($("session").textContent === "not signed in") $("session").textContent = "signed in (session cookie)";
      return info;
    } catch (e) {
      if (e.status !== 401) throw e;
      if (params.get("demo") === "1") { await demoLogin(); return fetchStream(trackId); }
      $("signin").hidden = false;
      throw e;
    }
  }

  function beacon(type, extra) {
    if (!state.url || !state.playId) return;
    const position = state.audio ? Math.round(state.audio.currentTime * 1000) : 0;
    const body = JSON.stringify(Object.assign({
      event_id: `${state.playId}:${state.seq++}`, event_type: type, play_id: state.playId,
      url: state.url, position_ms: position, player: "oggedge-web/1",
    }, extra || {}));
    // text/plain keeps the request CORS-simple (no preflight) when the page is on another origin.
    const blob = new Blob([body], { type: "text/plain" });
    if (!(navigator.sendBeacon && navigator.sendBeacon(`${API}/events/playback`, blob))) {
      fetch(`${API}/events/playback`, { method: "POST", body, keepalive: true }).catch(() => {});
    }
    const row = state.plays[state.plays.length - 1];
    if (row) { row.events.push(type); row.eventsCell.textContent = row.events.join(" "); }
  }

  function renderTracks() {
    const list = $("tracks");
    list.textContent = "";
    state.tracks.forEach((t, i) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.textContent = t.id;
      b.dataset.track = t.id;
      b.addEventListener("click", () => play(i, performance.now(), "tap"));
      li.appendChild(b);
      list.appendChild(li);
    });
  }

  function markPlaying() {
    [...$("tracks").children].forEach((li, i) => li.classList.toggle("playing", i === state.index));
  }

  function showQuality(note) {
    $("quality").textContent = `${state.quality} kbps`;
    $("cap").textContent = `cap ${state.cap}`;
    $("connection").textContent = `connection: ${connectionType() || "unknown"}`;
    if (note) setStatus(note);
  }

  function makeAudio(url) {
    const audio = document.createElement("audio");
    audio.preload = "auto";
    audio.src = url;
    $("media").appendChild(audio);
    return audio;
  }

  function stopCurrent(reason) {
    const a = state.audio;
    if (!a) return;
    if (reason === "skip" && state.started && !a.ended) beacon("skip");
    a.pause();
    a.removeAttribute("src");
    a.load();
    a.remove();
    state.audio = null;
    clearTimeout(state.stallTimer);
  }

  async function play(index, tapAt, how) {
    if (index < 0 || index >= state.tracks.length) return;
    stopCurrent("skip");
    const track = state.tracks[index];
    state.index = index;
    state.tapAt = tapAt;
    markPlaying();
    $("now-playing").textContent = track.id;
    setStatus("asking for a stream URL…");
    let info, audio;
    const pre = state.prefetch;
    state.prefetch = null;
    try {
      if (pre && pre.index === index) {
        info = pre.info; audio = pre.audio; how = how + " (prefetched)";
      } else {
        if (pre) pre.audio.remove();
        info = await streamWithSession(track.id);
        audio = makeAudio(absolute(info.url));
      }
    } catch (e) {
      setStatus(`cannot play ${track.id}: ${e.message}`, true);
      return;
    }
    state.url = absolute(info.url);
    state.quality = info.quality;
    state.cap = Number(new URL(state.url, location.href).searchParams.get("maxkbps")) || info.quality;
    state.playId = newPlayId();
    state.seq = 0;
    state.started = false;
    state.nextProgress = 15000;
    state.stalls = 0;
    state.note = "";
    state.audio = audio;
    audio.id = "audio";
    showQuality("");
    const row = addPlayRow(track.id, info.quality, how);
    wire(audio, row);
    setStatus("loading…");
    audio.play().catch((e) => setStatus(`play() refused: ${e.message}`, true));
  }

  function addPlayRow(trackId, quality, how) {
    const tr = document.createElement("tr");
    const row = { trackId, quality, how, tapMs: null, events: [], eventsCell: null, tapCell: null };
    tr.innerHTML = `<td>${state.plays.length + 1}</td><td></td><td>${quality} kbps</td><td class="tapcell">…</td><td></td><td></td>`;
    tr.children[1].textContent = trackId;
    tr.children[4].textContent = how;
    row.tapCell = tr.children[3];
    row.eventsCell = tr.children[5];
    $("plays-log").prepend(tr);
    state.plays.push(row);
    return row;
  }

  function wire(audio, row) {
    audio.addEventListener("playing", () => {
      clearTimeout(state.stallTimer);
      if (state.audio !== audio) return;
      showPlaying(true);
      if (!state.started) {
        state.started = true;
        const ms = Math.round((performance.now() - state.tapAt) * 10) / 10;
        row.tapMs = ms;
        row.tapCell.textContent = `${ms} ms`;
        $("tap-ms").textContent = String(Math.round(ms));
        setStatus(`playing ${row.trackId} at ${state.quality} kbps`);
        beacon("start", { tap_to_playing_ms: ms, position_ms: 0 });
      } else {
        setStatus(`playing ${row.trackId} at ${state.quality} kbps` + (state.note ? ` (${state.note})` : ""));
      }
    });
    audio.addEventListener("pause", () => { if (state.audio === audio) showPlaying(false); });
    audio.addEventListener("waiting", () => {
      if (state.audio !== audio || !state.started) return;
      setStatus("buffering…");
      clearTimeout(state.stallTimer);
      state.stallTimer = setTimeout(() => switchDown("stalled"), 1500);
    });
    audio.addEventListener("timeupdate", () => {
      if (state.audio !== audio) return;
      const pos = audio.currentTime * 1000;
      if (state.started && pos >= state.nextProgress) {
        beacon("progress");
        while (state.nextProgress <= pos) state.nextProgress += 15000;
      }
      const d = audio.duration;
      $("time").textContent = `${fmt(audio.currentTime)} / ${fmt(d)}`;
      if (isFinite(d) && d > 0) {
        if (!$("seek").dragging) $("seek").value = String(Math.round((audio.currentTime / d) * 1000));
        if (d - audio.currentTime <= PREFETCH_SECONDS) prefetchNext();
      }
    });
    audio.addEventListener("seeked", () => { if (state.audio === audio && state.started) beacon("seek"); });
    audio.addEventListener("ended", () => {
      if (state.audio !== audio) return;
      beacon("complete");
      const next = state.index + 1;
      if (next < state.tracks.length) play(next, performance.now(), "auto-next");
      else { showPlaying(false); setStatus("end of the list"); }
    });
    audio.addEventListener("error", () => {
      if (state.audio !== audio) return;
      const code = audio.error ? audio.error.code : "?";
      if (!switchDown(`media error ${code}`)) setStatus(`cannot play (media error ${code})`, true);
    });
  }

  // One bitrate lower within the token's cap, same token (its acl covers every rendition).
  function switchDown(why) {
    const a = state.audio;
    const lower = RATES.find((r) => r < state.quality && r <= state.cap);
    if (!a || !lower) return false;
    const position = a.currentTime;
    const url = state.url.replace(`_${state.quality}kbps.ogg`, `_${lower}kbps.ogg`);
    state.quality = lower;
    state.url = url;
    state.stalls += 1;
    a.src = url;
    a.currentTime = position;
    a.play().catch(() => {});
    state.note = `${why}: switched down to ${lower} kbps`;
    showQuality(state.note);
    return true;
  }

  async function prefetchNext() {
    const next = state.index + 1;
    if (state.prefetch || next >= state.tracks.length) return;
    state.prefetch = { index: next, pending: true };
    try {
      const info = await fetchStream(state.tracks[next].id);
      const audio = makeAudio(absolute(info.url)); // preload=auto: the browser fetches the first bytes now
      audio.load();
      state.prefetch = { index: next, info, audio };
    } catch (e) {
      state.prefetch = null;
    }
  }

  $("play-pause").addEventListener("click", () => {
    const a = state.audio;
    if (!a) { play(Math.max(0, state.index), performance.now(), "tap"); return; }
    if (a.paused) a.play(); else a.pause();
  });
  $("next").addEventListener("click", () => play(state.index + 1, performance.now(), "tap"));
  $("prev").addEventListener("click", () => play(Math.max(0, state.index - 1), performance.now(), "tap"));
  $("seek").addEventListener("input", () => { $("seek").dragging = true; });
  $("seek").addEventListener("change", () => {
    $("seek").dragging = false;
    const a = state.audio;
    if (a && isFinite(a.duration)) a.currentTime = (Number($("seek").value) / 1000) * a.duration;
  });
  $("demo-login").addEventListener("click", () => demoLogin().then(() => setStatus("signed in")).catch((e) => setStatus(e.message, true)));

  async function start() {
    $("connection").textContent = `connection: ${connectionType() || "unknown"}`;
    try {
      const res = await fetch(`${API}/player/tracks.json`);
      state.tracks = (await res.json()).tracks;
      renderTracks();
    } catch (e) {
      setStatus("cannot load the track list: " + e.message, true);
      return;
    }
    if (params.get("demo") === "1" && state.tracks.length) {
      try { await fetchStream(state.tracks[0].id); $("session").textContent = "signed in"; } catch (e) { if (e.status === 401) await demoLogin().catch(() => {}); }
    }
    const auto = params.get("autoplay");
    if (auto) {
      const i = state.tracks.findIndex((t) => t.id === auto);
      if (i >= 0) play(i, performance.now(), "autoplay");
    }
    document.body.dataset.ready = "1";
  }
  start();
})();
