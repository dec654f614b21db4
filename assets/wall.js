// Wall screen watchdog (only acts while a .cm-wall is on the page).
//  - heartbeat: GET /healthz every 5 s (the refresh interval's order: a 1,000-screen wall farm
//    costs the server 200 tiny GETs a second, see docs/BENCHMARKS.md); two misses in a row →
//    "CONNECTION LOST — retrying", cleared by the first answer. The page's dcc.Interval keeps polling on its own, so the
//    tiles update again as soon as the server is back, without a reload.
//  - after a restart (/healthz's boot id changed, or the server came back) the app's callbacks are
//    compared with the ones this page was built on; if they differ the page reloads ONCE
//    (guarded for 10 minutes in sessionStorage, so a broken server cannot cause a reload loop).
//  - while the server is unreachable the page's refresh Interval is paused (set_props), so no
//    requests pile up behind a dead connection; it resumes with the first answer.
//  - the data clock in the status line ticks every second from the snapshot's clock.
//  - a tile's quoted line ("largest since …") that the banners leave too little room for shows
//    its short form, or is hidden whole — never cut in half: checked after every render, resize
//    and second.
// One timer for the page's lifetime, fixed-size state: safe to run for days.
(function () {
  if (window.cmWallWatch) return;
  var BEAT_MS = 5000, TIMEOUT_MS = 4000, MISSES_DOWN = 2, DEPS_EVERY_MS = 5 * 60 * 1000;
  var RELOAD_GUARD_MS = 10 * 60 * 1000, RELOAD_KEY = "cm-wall-reloaded-at";
  var st = {paused: null, down: false, misses: 0, downSince: 0, lastOk: 0, lastBeat: 0, busy: false,
            deps: null, depsAt: 0, boot: null, clockRaw: null, clock: null};
  window.cmWallWatch = st;

  function prefix() {
    try {
      var cfg = JSON.parse(document.getElementById("_dash-config").textContent);
      return cfg.requests_pathname_prefix || "/";
    } catch (e) { return "/"; }
  }
  function get(path) {
    var ctl = new AbortController();
    var t = setTimeout(function () { ctl.abort(); }, TIMEOUT_MS);
    return fetch(prefix() + path, {cache: "no-store", credentials: "same-origin", signal: ctl.signal})
      .finally(function () { clearTimeout(t); });
  }
  function hash(s) {
    var h = 5381;
    for (var i = 0; i < s.length; i++) h = ((h * 33) ^ s.charCodeAt(i)) | 0;
    return h;
  }
  function fmtAge(s) {
    s = Math.max(0, Math.floor(s));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60 < 10 ? "0" : "") + (s % 60) + "s";
    return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
  }
  function reloadOnce(why) {
    var last = 0;
    try { last = Number(sessionStorage.getItem(RELOAD_KEY) || 0); } catch (e) {}
    if (Date.now() - last < RELOAD_GUARD_MS) return;
    try { sessionStorage.setItem(RELOAD_KEY, String(Date.now())); } catch (e) {}
    console.warn("wall: reloading once: " + why);
    location.reload();
  }
  // The callbacks this page runs on; a restarted server with other callbacks needs a reload.
  function checkApp() {
    st.depsAt = Date.now();
    return get("_dash-dependencies")
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); })
      .then(function (text) {
        var h = hash(text);
        if (st.deps === null) st.deps = h;
        else if (h !== st.deps) reloadOnce("the app's callbacks changed after a restart");
      })
      .catch(function () { st.depsAt = 0; });   // try again on the next beat
  }
  function banner() {
    var el = document.getElementById("cm-wall-conn");
    if (!el) {
      el = document.createElement("div");
      el.id = "cm-wall-conn";
      el.setAttribute("role", "alert");
      document.body.appendChild(el);
    }
    return el;
  }
  // Pause/resume the shell's refresh Interval (its id is on the wall root as data-refresh).
  function setPolling(on) {
    var root = document.querySelector(".cm-wall");
    var id = (root && root.getAttribute("data-refresh")) || (st.paused && st.paused.id);
    var api = window.dash_clientside;
    if (!id || !api || !api.set_props) return;
    if (!on && !st.paused) { api.set_props(id, {disabled: true}); st.paused = {id: id}; }
    else if (on && st.paused) { api.set_props(st.paused.id, {disabled: false}); st.paused = null; }
  }
  function showState(now) {
    var server = document.getElementById("cm-wall-server");
    if (st.down) {
      document.body.classList.add("cm-wall-offline");
      banner().textContent = "CONNECTION LOST — retrying every " + BEAT_MS / 1000 + " s · no answer for "
        + fmtAge((now - (st.lastOk || st.downSince)) / 1000);
      if (server) { server.textContent = "server: NO ANSWER"; server.className = "cm-wall-server cm-down"; }
    } else {
      document.body.classList.remove("cm-wall-offline");
      if (server && st.lastOk) { server.textContent = "server ok"; server.className = "cm-wall-server cm-ok"; }
    }
  }
  function clockNow(c) {
    if (c && c.kind === "pinned") return Date.parse(c.at);           // a view pinned to a past day
    if (c && c.kind === "replay") {
      if (c.t0 === null || c.t0 === undefined) return Date.parse(c.start);   // held while loading
      var t = Date.parse(c.start) + (Date.now() / 1000 - c.t0) * 1000 * c.speed;
      return c.until ? Math.min(t, Date.parse(c.until)) : t;      // --until: the clock stops there
    }
    return Date.now();
  }
  function tickClock() {
    var el = document.getElementById("cm-wall-dataclock");
    if (!el) return;
    var raw = el.getAttribute("data-clock");
    if (raw !== st.clockRaw) {
      st.clockRaw = raw;
      try { st.clock = JSON.parse(raw); } catch (e) { st.clock = {kind: "system"}; }
      // The snapshot's clock is the freshest copy (a restarted replay starts a new one):
      // keep assets/age.js ticking the tiles' ages against it.
      window.cmClock = st.clock;
    }
    var d = new Date(clockNow(st.clock));
    if (!isNaN(d)) el.textContent = d.toISOString().replace("T", " ").slice(0, 19) + " UTC";
  }
  function overflows(el) {
    return el.clientHeight === 0 || el.scrollHeight > el.clientHeight + 1 || el.scrollWidth > el.clientWidth + 1;
  }
  function fitSaid() {
    var els = document.querySelectorAll(".cm-wall .cm-tile-said");
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      // Measured in one task, no paint in between: the full line, else its short form, else none.
      el.classList.remove("cm-said-brief", "cm-said-cut");
      if (overflows(el) && el.querySelector(".cm-said-short")) el.classList.add("cm-said-brief");
      if (overflows(el)) el.classList.add("cm-said-cut");   // visibility only: layout unchanged
    }
  }
  var fitQueued = false;
  function queueFit() {
    if (fitQueued || !document.querySelector(".cm-wall")) return;
    fitQueued = true;
    setTimeout(function () { fitQueued = false; fitSaid(); }, 0);   // once per burst of changes
  }
  window.addEventListener("resize", queueFit);
  new MutationObserver(queueFit).observe(document.body, {childList: true, subtree: true});
  function beat(now) {
    st.busy = true;
    st.lastBeat = now;
    get("healthz").then(function (r) {
      // Any HTTP answer (503 = store trouble, 401 = auth) means the server is reachable.
      var wasDown = st.down;
      st.misses = 0; st.lastOk = Date.now(); st.down = false;
      setPolling(true);
      return r.json().catch(function () { return {}; }).then(function (body) {
        var boot = body && body.boot ? String(body.boot) : st.boot;
        var restarted = st.boot !== null && boot !== st.boot;    // another server process answered
        st.boot = boot;
        var server = document.getElementById("cm-wall-server");
        if (server && boot) server.setAttribute("data-boot", boot);
        if (wasDown || restarted || st.deps === null || Date.now() - st.depsAt > DEPS_EVERY_MS) return checkApp();
      });
    }, function () {
      st.misses += 1;
      if (st.misses >= MISSES_DOWN && !st.down) { st.down = true; st.downSince = Date.now(); setPolling(false); }
    }).finally(function () { st.busy = false; showState(Date.now()); });
  }
  function tick() {
    if (!document.querySelector(".cm-wall")) {
      // Left the wall (client-side navigation): clear what this script added.
      document.body.classList.remove("cm-wall-offline");
      st.down = false; st.misses = 0;
      setPolling(true);   // never leave another page with a paused refresh
      return;
    }
    var now = Date.now();
    tickClock();
    fitSaid();
    if (!st.busy && now - st.lastBeat >= BEAT_MS) beat(now);
    showState(now);
  }
  setInterval(tick, 1000);
})();
