/* The per-minute trend chart of the room on the wall (figure built by components/charts.py).
 *
 * Closed minutes are appended with Plotly.extendTraces (maxPoints keeps the last hour); the minute in
 * progress lives in two small traces restyled in place. The whole figure is redrawn only when the room
 * or its markers (product changes, alerts) change, or after a resync. Updates are throttled: the numbers move
 * at frame rate, the chart once a second.
 *
 * The ghost (trace 4): the room's earlier sessions' online at the same minute from the start, dashed. Read once
 * per session (GET /api/rooms/<room>/baseline, when a room's session is first shown), never per frame.
 */
(function () {
  "use strict";
  var lw = window.livewall;
  var MAX_POINTS = 60, MIN_INTERVAL_MS = 1000, BASE_FONT_PX = 18, BASE_REM_PX = 20;
  var LABEL_ROWS = 3;     // marker labels stack in at most this many rows; one that finds no room is left out
  var PRODUCT_COLOR = "rgba(235,240,255,0.55)", ALERT_COLOR = "#ff4d5e";
  var CONFIG = {staticPlot: true, displayModeBar: false, responsive: true};

  function escapeForPlotly(s) {
    // Plotly reads a few HTML-like tags in annotation text; names are data, so make them plain text.
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  var canvas = null;
  function textWidth(text, px, family) {
    canvas = canvas || document.createElement("canvas");
    var c = canvas.getContext("2d");
    c.font = px + "px " + family;
    return c.measureText(text).width;
  }

  lw.TrendChart = function (container) {
    var room = null, lastClosed = null, lastOnline = null, lastDraw = 0, wantFull = true, markerKey = "";
    var pending = null, timer = null, ghosts = {}, ghostUntil = 0, shown = null;

    // room -> {session, online: {minute_from_start: mean online}}; asked for once per session
    function ghostOf(frame) {
      var m = frame.metrics || {}, g = ghosts[frame.room];
      if (!m.session) return null;
      if (!g || g.session !== m.session) {
        g = ghosts[frame.room] = {session: m.session, online: null};
        fetch("/api/rooms/" + encodeURIComponent(frame.room) + "/baseline").then(function (r) {
          return r.ok ? r.json() : null;
        }).then(function (b) {
          if (ghosts[frame.room] !== g || !b || !b.baseline || !b.baseline.length) return;
          g.online = {};
          b.baseline.forEach(function (p) { g.online[p.minute_from_start] = p.online; });
          wantFull = true;   // drawn now, over the frame on show (a quiet room may send no other)
          if (shown && shown[0].room === frame.room) { pending = shown; schedule(); }
        }).catch(function () { /* no ghost: the chart is whole without it */ });
      }
      return g.online;
    }

    // the ghost's points at these minutes (the session's first minute is the baseline's minute 0)
    function ghostPoints(frame, minutes) {
      var online = ghostOf(frame), m = frame.metrics || {}, xs = [], ys = [];
      if (!online || typeof m.started !== "number") return {x: xs, y: ys};
      var t0 = Math.floor(m.started / 60) * 60;
      minutes.forEach(function (minute) {
        var v = online[Math.round((minute - t0) / 60)];
        if (typeof v === "number") { xs.push(x(minute)); ys.push(v); }
      });
      return {x: xs, y: ys};
    }

    function gd() {
      var g = container.querySelector(".js-plotly-plot");
      return g && g._fullLayout && window.Plotly ? g : null;
    }

    function scale() {
      return parseFloat(getComputedStyle(document.documentElement).fontSize) / BASE_REM_PX || 1;
    }

    // Plotly shows epoch numbers in UTC; a wall shows local time, so give it local date strings
    function x(ts) {
      var d = new Date(ts * 1000), two = function (n) { return (n < 10 ? "0" : "") + n; };
      return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + " " + two(d.getHours()) + ":" +
        two(d.getMinutes()) + ":" + two(d.getSeconds());
    }

    function full(g, frame, markers) {
      var s = frame.series, closed = s.slice(0, -1), now = s[s.length - 1];
      var last = closed.length ? closed[closed.length - 1] : now;
      var k = scale(), layout = JSON.parse(JSON.stringify(g.layout));
      layout.font.size = BASE_FONT_PX * k;
      layout.margin = {l: 80 * k, r: 70 * k, t: 12 * k, b: 48 * k};
      // the axis runs from the first minute to the one in progress (as_of): no stretch of future
      layout.xaxis.autorange = true;
      layout.xaxis.showticklabels = true;
      // the time labels stand a little below the plot, clear of the money axis's "¥0"
      layout.xaxis.ticklabelstandoff = 8 * k;
      layout.yaxis.autorange = true;
      layout.yaxis2.autorange = true;
      var data = JSON.parse(JSON.stringify(g.data));
      data[0].x = closed.map(function (p) { return x(p.minute); });
      data[0].y = closed.map(function (p) { return p.gmv; });
      data[1].x = data[0].x.slice();
      data[1].y = closed.map(function (p) { return p.online; });
      data[1].line.width = 4 * k;
      data[3].line.width = 4 * k;
      data[2].x = [x(now.minute)];
      data[2].y = [now.gmv];
      data[3].x = [x(last.minute), x(now.minute)];
      data[3].y = [last.online, now.online];
      if (data[4]) {
        var ghost = ghostPoints(frame, s.map(function (p) { return p.minute; }));
        data[4].x = ghost.x;
        data[4].y = ghost.y;
        data[4].line.width = 3 * k;
        ghostUntil = now.minute;
        container.closest(".lw-trend") && container.closest(".lw-trend").classList.toggle("has-ghost", ghost.x.length > 0);
      }
      Object.assign(layout, markerLayout(markers, k, s, g));
      Plotly.react(g, data, layout, CONFIG);
      lastClosed = closed.length ? last.minute : now.minute - 60;
      lastOnline = last.online;
    }

    function incremental(g, frame) {
      var s = frame.series, now = s[s.length - 1], fresh = [];
      for (var i = 0; i < s.length - 1; i++) if (s[i].minute > lastClosed) fresh.push(s[i]);
      if (fresh.length) {
        var xs = fresh.map(function (p) { return x(p.minute); });
        Plotly.extendTraces(g, {x: [xs, xs.slice()], y: [fresh.map(function (p) { return p.gmv; }),
          fresh.map(function (p) { return p.online; })]}, [0, 1], MAX_POINTS);
        lastClosed = fresh[fresh.length - 1].minute;
        lastOnline = fresh[fresh.length - 1].online;
      }
      if (now.minute > ghostUntil && g.data[4]) {
        var ghost = ghostPoints(frame, [now.minute]);
        ghostUntil = now.minute;
        if (ghost.x.length) Plotly.extendTraces(g, {x: [ghost.x], y: [ghost.y]}, [4], MAX_POINTS + 1);
      }
      var from = lastOnline === null ? now.online : lastOnline;
      Plotly.restyle(g, {x: [[x(now.minute)], [x(lastClosed), x(now.minute)]], y: [[now.gmv], [from, now.online]]},
        [2, 3]);
    }

    // markers: [{ts, kind: "product"|"alert", label}], drawn as vertical lines within the chart's hour. Each
    // label is written whole, leaning away from the nearer edge, in the first of a few rows where it overlaps no
    // other label; newest first, so an older one that finds no row keeps only its line (the legend says which).
    function markerLayout(markers, k, series, g) {
      var shapes = [], annotations = [], t0 = series[0].minute - 30, t1 = series[series.length - 1].minute + 30;
      var size = g._fullLayout._size, width = size.w, px = 16 * k, family = g._fullLayout.font.family;
      var rows = [];
      for (var r = 0; r < LABEL_ROWS; r++) rows.push([]);
      markers.slice().sort(function (a, b) { return b.ts - a.ts; }).forEach(function (m) {
        var color = m.kind === "alert" ? ALERT_COLOR : PRODUCT_COLOR, at = x(m.ts);
        shapes.push({type: "line", xref: "x", yref: "paper", x0: at, x1: at, y0: 0, y1: 1,
                     line: {color: color, width: 2 * k, dash: m.kind === "alert" ? "solid" : "dot"}});
        var text = String(m.label || ""), w = textWidth(text, px, family) + 8 * k;
        var pos = (m.ts - t0) / Math.max(60, t1 - t0) * width, right = pos > width * 0.6;
        var span = right ? [pos - w, pos] : [pos, pos + w];
        if (!text || span[0] < 0 || span[1] > width) return;
        for (var row = 0; row < LABEL_ROWS; row++) {
          var free = rows[row].every(function (o) { return span[1] <= o[0] || span[0] >= o[1]; });
          if (!free) continue;
          rows[row].push(span);
          annotations.push({xref: "x", yref: "paper", x: at, y: 1, yanchor: "top", xanchor: right ? "right" : "left",
                            showarrow: false, text: escapeForPlotly(text), font: {size: px, color: color},
                            bgcolor: "rgba(12, 17, 32, 0.75)", yshift: -row * (px + 6 * k)});
          return;
        }
      });
      return {shapes: shapes, annotations: annotations};
    }

    function draw(frame, markers) {
      var g = gd();
      if (!g) { pending = [frame, markers]; schedule(); return; }
      if (!frame.series || !frame.series.length) return;
      var key = markers.map(function (m) { return m.kind + m.ts; }).join();
      // New markers redraw the whole figure: Plotly.relayout on dcc.Graph's plot makes Dash put the Graph's
      // own (empty) figure back, which wiped the hour of closed minutes at every alert or product change.
      if (wantFull || frame.room !== room || key !== markerKey) {
        room = frame.room;
        full(g, frame, markers);
        wantFull = false;
        markerKey = key;
      } else {
        incremental(g, frame);
      }
      lastDraw = Date.now();
    }

    function schedule() {
      if (timer) return;
      var wait = Math.max(0, MIN_INTERVAL_MS - (Date.now() - lastDraw));
      timer = setTimeout(function () {
        timer = null;
        if (pending) { var p = pending; pending = null; draw(p[0], p[1]); }
      }, gd() ? wait : 200);
    }

    return {
      // a frame of the shown room; `markers` as above
      update: function (frame, markers) {
        pending = shown = [frame, markers];
        if (wantFull || frame.room !== room) { pending = null; draw(frame, markers); } else schedule();
      },
      redraw: function () { wantFull = true; }
    };
  };
})();
