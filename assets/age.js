// Keeps every "age" cell ticking between server refreshes, against the data clock
// (wall time live; an accelerated clock during a replay). Elements carry data-asof (epoch ms).
(function () {
  function dataNow() {
    var c = window.cmClock || {kind: "system"};
    if (c.kind === "replay") {
      if (c.t0 === null || c.t0 === undefined) return Date.parse(c.start);   // held while loading
      var t = Date.parse(c.start) + (Date.now() / 1000 - c.t0) * 1000 * c.speed;
      return c.until ? Math.min(t, Date.parse(c.until)) : t;      // --until: the clock stops there
    }
    return Date.now();
  }
  function fmt(s) {
    s = Math.max(0, Math.floor(s));
    function p(n) { return (n < 10 ? "0" : "") + n; }
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + p(s % 60) + "s";
    if (s < 86400) return Math.floor(s / 3600) + "h " + p(Math.floor((s % 3600) / 60)) + "m";
    return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
  }
  function tick() {
    var now = dataNow(), wall = Date.now();
    var els = document.querySelectorAll("[data-asof]");
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      var age = ((el.dataset.wall ? wall : now) - Number(el.dataset.asof)) / 1000;
      el.textContent = fmt(age);
      var limit = Number(el.dataset.staleafter || Infinity);
      el.classList.toggle("cm-age-stale", age > limit);
    }
  }
  setInterval(tick, 1000);
})();
