/* Matrix mode: a tile per room, every room's key numbers at once.
 *
 * Tiles are clones of the page's hidden template (components/matrix.py), added as rooms are heard of, in a
 * stable order (the URL's, else by name) so people learn where each room sits. The grid picks the column
 * count that gives the largest tiles for the screen's shape.
 */
(function () {
  "use strict";
  var lw = window.livewall;
  var D = lw.dom;
  var TILE_ASPECT = 1.45;
  var SVG = "http://www.w3.org/2000/svg";

  function sparkPath(series, w, h) {
    var n = series.length, max = 0;
    if (n < 2) return "";
    for (var i = 0; i < n; i++) if (series[i].gmv > max) max = series[i].gmv;
    var d = "M0," + h;
    for (i = 0; i < n; i++) {
      d += "L" + (i * w / (n - 1)).toFixed(1) + "," + (h - (max ? series[i].gmv / max * h * 0.92 : 0)).toFixed(1);
    }
    return d + "L" + w + "," + h + "Z";
  }

  lw.WallMatrix = function (root, ctx) {
    var lang = ctx.lang;
    var template = root.querySelector("[data-template]");
    var grid = root.querySelector(".lw-grid");
    var header = D.fields(root.querySelector(".lw-header"));
    var total = root.querySelector('[data-total="gmv"]');
    var tiles = new Map(), order = ctx.rooms ? ctx.rooms.slice() : [];

    function shown() {
      var n = 0;
      tiles.forEach(function (t) { n += !t.el.hidden; });
      return n;
    }

    function layoutGrid() {
      var n = Math.max(1, shown()), w = grid.clientWidth, h = grid.clientHeight, best = 1, bestScore = 0;
      for (var c = 1; c <= n; c++) {
        var r = Math.ceil(n / c), score = Math.min(w / c, h / r * TILE_ASPECT);
        if (score > bestScore) { bestScore = score; best = c; }
      }
      grid.style.gridTemplateColumns = "repeat(" + best + ", minmax(0, 1fr))";
      grid.style.gridTemplateRows = "repeat(" + Math.ceil(n / best) + ", minmax(0, 1fr))";
      D.setText(header.room_count, String(shown()));
    }

    function tile(room) {
      var t = tiles.get(room);
      if (t) return t;
      var el = template.cloneNode(true);
      el.removeAttribute("data-template");
      el.setAttribute("data-room", room);
      el.setAttribute("data-state", "waiting");
      var svg = document.createElementNS(SVG, "svg"), path = document.createElementNS(SVG, "path");
      svg.setAttribute("viewBox", "0 0 100 30");
      svg.setAttribute("preserveAspectRatio", "none");
      svg.appendChild(path);
      el.querySelector(".lw-spark").appendChild(svg);
      t = {el: el, metrics: D.bind(el), f: D.fields(el), path: path, frame: null, sparkKey: ""};
      D.setText(t.f.room, room);
      D.setText(t.f.fresh, lw.t(lang, "waiting"));
      tiles.set(room, t);
      if (order.indexOf(room) < 0) { order.push(room); if (!ctx.rooms) order.sort(); }
      var next = null;
      for (var i = order.indexOf(room) + 1; i < order.length && !next; i++) next = tiles.get(order[i]);
      grid.insertBefore(el, next ? next.el : null);
      layoutGrid();
      return t;
    }

    function totals() {
      var sum = 0, any = false;
      tiles.forEach(function (t) { if (t.frame && !t.el.hidden) { sum += t.frame.metrics.gmv || 0; any = true; } });
      D.setText(total, any ? lw.fmt("money-hero", lang, sum) : lw.fmt.DASH);
    }

    (ctx.rooms || []).forEach(tile);
    window.addEventListener("resize", layoutGrid);

    return {
      render: function (fr) {
        var t = tile(fr.room), m = fr.metrics;
        t.frame = fr;
        D.apply(t.metrics, m, lang);
        D.setPlatform(t.f.platform, lang, fr.platform);
        D.setText(t.f.title, m.title || "");
        var live = null, ps = fr.products || [];
        for (var i = 0; i < ps.length && !live; i++) if (ps[i].on_stage) live = ps[i];
        D.setText(t.f.onstage_name, live ? (live.name || live.sku) : lw.fmt.DASH);
        var s = fr.series || [], last = s[s.length - 1];
        var key = s.length + ":" + (last ? last.minute + ":" + last.gmv : "");
        if (key !== t.sparkKey) {
          t.sparkKey = key;
          t.path.setAttribute("d", sparkPath(s, 100, 30));
          var top = 0;
          for (var j = 0; j < s.length; j++) top = Math.max(top, s[j].gmv || 0);
          D.setText(t.f.spark_max, s.length > 1 ? lw.fmt("money-tile", lang, top) : lw.fmt.DASH);   // the chart's scale
        }
        D.setAttr(t.el, "data-state", m.ended ? "ended" : "live");
        totals();
      },
      // per room: firing alerts and the worst severity among them
      alerts: function (room, count, worst) {
        var t = tiles.get(room);
        if (!t) return;
        // the tile itself is flagged (border, and the badge says how bad): the toast in the lane names the room
        D.setText(t.f.alerts, count ? "⚠ " + count + " " + lw.t(lang, worst) : "");
        D.setAttr(t.el, "data-alert-level", count ? worst : "none");
      },
      tick: function (now, connected) {
        D.setText(header.fresh, connected ? lw.t(lang, "live") : "");
        var moved = false;
        tiles.forEach(function (t) {
          if (!t.frame) return;
          // a session ended long ago leaves the matrix; a new one brings its tile back
          var gone = lw.endedLongAgo(t.frame, now);
          if (gone !== t.el.hidden) { t.el.hidden = gone; moved = true; }
          var m = t.frame.metrics, age = Math.max(0, now - t.frame.updated);
          var ended = m.ended !== null && m.ended !== undefined, stale = !ended && age > lw.constants.stale_s;
          t.el.classList.toggle("is-stale", stale);
          D.setText(t.f.fresh, ended ? lw.t(lang, "ended") : stale ? lw.t(lang, "stale_short", {age: lw.age(lang, age)}) :
            lw.t(lang, "live"));
        });
        if (moved) { layoutGrid(); totals(); }
      },
      rooms: function () { return order.slice(); }
    };
  };
})();
