/* The audience and channel boxes of the manager's room drill-down (components/audience.py): the viewer and
 * buyer share bars of each attribute, and the per-minute chart of visits or GMV stacked by traffic channel.
 * Their numbers are ordinary [data-metric] cells the detail view fills; this only draws what is not text.
 * The chart is rebuilt only when the minutes it shows changed. */
(function () {
  "use strict";
  var lw = window.livewall;
  var SVG = "http://www.w3.org/2000/svg";
  // the stacking order, bottom up: as CHANNEL_KEYS in engine/metrics.py, "none" last
  var CHANNELS = ["feed", "nearby", "plaza", "short_video", "qianchuan_pc", "suixintui", "brand_ad", "search",
                  "follow", "profile", "other", "none"];
  var COLORS = {feed: "#25c5f4", nearby: "#1f8fb8", plaza: "#7fe3ff", short_video: "#a67cff", qianchuan_pc: "#ffb020",
                suixintui: "#ff7a45", brand_ad: "#ffd666", search: "#3ddc84", follow: "#ff5c8a", profile: "#c27ba0",
                other: "#8a94ad", none: "#4a536b"};
  var H = 210, PAD_L = 52, PAD_B = 22, PAD_T = 8;

  function node(tag, attrs, text) {
    var el = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function hhmm(ts) {
    var d = new Date(ts * 1000), two = function (n) { return (n < 10 ? "0" : "") + n; };
    return two(d.getHours()) + ":" + two(d.getMinutes());
  }

  lw.ManagerAudience = function (root, ctx) {
    var D = lw.dom, lang = ctx.lang;
    var bars = Array.prototype.map.call(root.querySelectorAll("[data-au-bar]"), function (el) {
      var p = el.getAttribute("data-au-bar").split("|");
      return {el: el, attr: p[0], value: p[1], kind: p[2]};
    });
    var chart = root.querySelector(".lw-ch-chart");
    var modes = root.querySelectorAll(".lw-ch-mode");
    var mode = "visits", series = [], drawn = null;

    root.querySelectorAll(".lw-ch-swatch").forEach(function (el) {
      el.style.background = COLORS[el.getAttribute("data-channel")] || COLORS.none;
    });
    modes.forEach(function (b) {
      b.addEventListener("click", function () {
        mode = b.getAttribute("data-mode");
        modes.forEach(function (o) { o.classList.toggle("is-on", o === b); });
        draw();
      });
    });

    function renderBars(aud) {
      var totals = {};
      bars.forEach(function (b) {
        var key = b.attr + "|" + b.kind, a = aud[b.attr] || {};
        if (totals[key] === undefined) {
          totals[key] = 0;
          Object.keys(a).forEach(function (v) { totals[key] += a[v][b.kind] || 0; });
        }
        var n = a[b.value] ? a[b.value][b.kind] || 0 : 0;
        D.setWidth(b.el, totals[key] ? 100 * n / totals[key] : 0);
      });
    }

    function value(minute, ch) {
      var c = minute.channels && minute.channels[ch];
      return c ? c[mode] || 0 : 0;
    }

    function draw() {
      var key = mode + "|" + chart.clientWidth + "|" + JSON.stringify(series.length ? [series[0].minute, series[series.length - 1]] : []);
      if (key === drawn) return;
      drawn = key;
      while (chart.firstChild) chart.removeChild(chart.firstChild);
      var w = chart.clientWidth;
      if (!series.length || !w) return;
      var max = 0;
      series.forEach(function (m) {
        var sum = 0;
        CHANNELS.forEach(function (ch) { sum += value(m, ch); });
        if (sum > max) max = sum;
      });
      var svg = node("svg", {width: w, height: H, "class": "lw-ch-svg", role: "img"});
      var plotW = w - PAD_L - 6, plotH = H - PAD_B - PAD_T, step = plotW / series.length;
      var fmt = mode === "gmv" ? "money" : "int";
      [0, 0.5, 1].forEach(function (f) {
        var y = PAD_T + plotH * (1 - f);
        svg.appendChild(node("line", {x1: PAD_L, x2: w - 6, y1: y, y2: y, "class": "lw-ch-grid"}));
        svg.appendChild(node("text", {x: PAD_L - 6, y: y + 4, "text-anchor": "end", "class": "lw-ch-axis"},
                             max ? lw.fmt(fmt, lang, max * f) : "0"));
      });
      series.forEach(function (m, i) {
        var y = PAD_T + plotH, x = PAD_L + i * step + step * 0.12, bw = Math.max(1, step * 0.76);
        CHANNELS.forEach(function (ch) {
          var v = value(m, ch);
          if (!v || !max) return;
          var h = plotH * v / max;
          y -= h;
          var r = node("rect", {x: x.toFixed(1), y: y.toFixed(1), width: bw.toFixed(1), height: h.toFixed(1),
                                fill: COLORS[ch], "data-channel": ch});
          r.appendChild(node("title", {}, hhmm(m.minute) + " " + ch + " " + lw.fmt(fmt, lang, v)));
          svg.appendChild(r);
        });
      });
      var ticks = series.length > 1 ? [0, Math.floor((series.length - 1) / 2), series.length - 1] : [0];
      ticks.forEach(function (i) {
        svg.appendChild(node("text", {x: PAD_L + (i + 0.5) * step, y: H - 6, "text-anchor": "middle", "class": "lw-ch-axis"},
                             hhmm(series[i].minute)));
      });
      chart.appendChild(svg);
    }

    return {
      render: function (fr) {
        renderBars((fr.metrics && fr.metrics.audience) || {});
        series = fr.series || [];
        draw();
      }
    };
  };
})();
