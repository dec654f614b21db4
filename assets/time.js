// Times in the zone the user picked: `?tz=utc|tokyo|newyork` in the address bar (view state,
// like every page parameter, so a shared link shows the same clock) or the navigation bar's
// picker. Every `.cm-time[data-ts]` (epoch ms, the UTC instant) is rewritten in that zone;
// grids format their time column through window.cmTime. The server always renders UTC first.
(function () {
  var ZONES = {utc: ["UTC", "UTC"], tokyo: ["Asia/Tokyo", "JST"], newyork: ["America/New_York", null]};
  function zoneKey() {
    var raw = (new URLSearchParams(window.location.search).get("tz") || "utc").toLowerCase();
    return ZONES[raw] ? raw : "utc";
  }
  var cache = {};
  function formatter(key, sec) {
    var k = key + (sec ? "s" : "");
    if (!cache[k]) {
      cache[k] = new Intl.DateTimeFormat("en-US", {timeZone: ZONES[key][0], year: "numeric", month: "2-digit",
        day: "2-digit", hour: "2-digit", minute: "2-digit", second: sec ? "2-digit" : undefined,
        hourCycle: "h23", timeZoneName: "short"});
    }
    return cache[k];
  }
  function fmt(ms, sec, key) {
    key = key || zoneKey();
    var parts = {};
    formatter(key, sec).formatToParts(new Date(ms)).forEach(function (p) { parts[p.type] = p.value; });
    var label = ZONES[key][1] || parts.timeZoneName;       // New York: EST or EDT, from the date
    return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" + parts.minute
      + (sec ? ":" + parts.second : "") + " " + label;
  }
  // "2026-01-20 06:00:00" (UTC, as the alert grid sorts it) → the same instant in the chosen zone.
  window.cmTime = function (text) {
    if (!text) return "";
    var ms = Date.parse(String(text).replace(" ", "T") + "Z");
    return isNaN(ms) ? text : fmt(ms, true);
  };
  window.cmTimeFormat = fmt;
  // AG Grid's valueFormatter strings reach functions in this namespace (components/alerts.py).
  var dagfuncs = (window.dashAgGridFunctions = window.dashAgGridFunctions || {});
  dagfuncs.cmTime = window.cmTime;
  var shown = null;
  function keepInUrl() {
    // The zone follows the user from page to page: a link inside the app drops the query, so
    // the chosen zone (kept for this tab) goes back into the address bar.
    var q = new URLSearchParams(window.location.search), kept = window.sessionStorage.getItem("cm-tz");
    if (q.get("tz")) { window.sessionStorage.setItem("cm-tz", q.get("tz").toLowerCase()); return; }
    if (kept && kept !== "utc" && ZONES[kept]) {
      q.set("tz", kept);
      window.history.replaceState(window.history.state, "", window.location.pathname + "?" + q.toString());
    }
  }
  function render(force) {
    keepInUrl();
    var key = zoneKey();
    var els = document.querySelectorAll(".cm-time[data-ts]");
    for (var i = 0; i < els.length; i++) {
      var el = els[i], ms = Number(el.dataset.ts);
      if (!ms) continue;
      var text = fmt(ms, !!el.dataset.sec, key);
      if (el.textContent !== text) el.textContent = text;
    }
    var pick = document.getElementById("cm-tz");
    if (pick && pick.value !== key) pick.value = key;
    if (force || shown !== key) {
      shown = key;
      if (window.dash_ag_grid && window.dash_ag_grid.getApiAsync) {
        document.querySelectorAll(".ag-root-wrapper").forEach(function (g) {
          var host = g.closest("[id]");
          if (host) window.dash_ag_grid.getApiAsync(host.id).then(function (api) { api.refreshCells({force: true}); })
            .catch(function () {});
        });
      }
    }
  }
  document.addEventListener("change", function (ev) {
    if (!ev.target || ev.target.id !== "cm-tz") return;
    var q = new URLSearchParams(window.location.search);
    if (ev.target.value === "utc") q.delete("tz"); else q.set("tz", ev.target.value);
    window.sessionStorage.setItem("cm-tz", ev.target.value);
    var s = q.toString();
    window.history.replaceState(window.history.state, "", window.location.pathname + (s ? "?" + s : ""));
    render(true);
  });
  setInterval(render, 500);
})();
