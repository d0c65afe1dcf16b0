/* The review's timeline as a small SVG: GMV bars per minute (left scale), the online line (right scale) and a
 * red mark where each alert started. Drawn once per review at the container's width; a review does not change.
 * Plain SVG, not Plotly: one static chart does not need a charting library's weight, and labels stay text.
 */
(function () {
  "use strict";
  var lw = window.livewall;
  var SVG = "http://www.w3.org/2000/svg";
  var H = 190, M = {l: 58, r: 46, t: 12, b: 26};

  function node(tag, attrs, text) {
    var n = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { n.setAttribute(k, attrs[k]); });
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function hhmm(ts) {
    var d = new Date(ts * 1000), two = function (n) { return (n < 10 ? "0" : "") + n; };
    return two(d.getHours()) + ":" + two(d.getMinutes());
  }

  lw.ManagerTimeline = function (container, timeline, lang) {
    var minutes = timeline.filter(function (p) { return p.kind === "minute"; })
      .sort(function (a, b) { return a.minute - b.minute; });
    var alerts = timeline.filter(function (p) { return p.kind === "alert" && typeof p.ts === "number"; });
    var W = Math.max(280, container.clientWidth || 600);
    var svg = node("svg", {viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img", "class": "lw-m-timeline-svg"});
    container.replaceChildren(svg);
    if (!minutes.length) return;

    var t0 = minutes[0].minute, t1 = minutes[minutes.length - 1].minute + 60;
    var plotW = W - M.l - M.r, plotH = H - M.t - M.b, step = plotW / minutes.length;
    var gmax = 0, omax = 0;
    minutes.forEach(function (p) { gmax = Math.max(gmax, p.gmv || 0); omax = Math.max(omax, p.online || 0); });
    var x = function (ts) { return M.l + (ts - t0) / (t1 - t0) * plotW; };
    var yg = function (v) { return M.t + plotH - (gmax ? v / gmax * plotH : 0); };
    var yo = function (v) { return M.t + plotH - (omax ? v / omax * plotH : 0); };

    [0, 0.5, 1].forEach(function (k) {
      var y = M.t + plotH * (1 - k);
      svg.appendChild(node("line", {x1: M.l, x2: W - M.r, y1: y, y2: y, "class": "lw-m-grid"}));
      svg.appendChild(node("text", {x: M.l - 6, y: y + 4, "text-anchor": "end", "class": "lw-m-axis lw-m-axis-gmv"},
        lw.fmt("money", lang, gmax * k)));
      svg.appendChild(node("text", {x: W - M.r + 6, y: y + 4, "class": "lw-m-axis lw-m-axis-online"},
        lw.fmt("int", lang, Math.round(omax * k))));
    });

    minutes.forEach(function (p) {
      var y = yg(p.gmv || 0);
      svg.appendChild(node("rect", {x: x(p.minute) + step * 0.15, y: y, width: Math.max(1, step * 0.7),
                                    height: M.t + plotH - y, "class": "lw-m-bar-gmv"}));
    });
    var d = minutes.map(function (p, i) {
      return (i ? "L" : "M") + (x(p.minute) + step / 2).toFixed(1) + "," + yo(p.online || 0).toFixed(1);
    }).join("");
    svg.appendChild(node("path", {d: d, "class": "lw-m-line-online"}));

    alerts.forEach(function (a) {
      if (a.ts < t0 || a.ts > t1) return;
      var g = node("g", {"class": "lw-m-mark", "data-severity": a.severity || "info"});
      g.appendChild(node("title", {}, (a.rule || "") + " · " + lw.t(lang, a.severity || "info") + " · " + hhmm(a.ts)));
      g.appendChild(node("line", {x1: x(a.ts), x2: x(a.ts), y1: M.t, y2: M.t + plotH}));
      g.appendChild(node("circle", {cx: x(a.ts), cy: M.t + 4, r: 4}));
      svg.appendChild(g);
    });

    var ticks = minutes.length > 2 ? [t0, (t0 + t1) / 2, t1] : [t0, t1];
    ticks.forEach(function (ts, i) {
      svg.appendChild(node("text", {x: x(ts), y: H - 6, "class": "lw-m-axis",
                                    "text-anchor": i === 0 ? "start" : i === ticks.length - 1 ? "end" : "middle"}, hhmm(ts)));
    });
  };
})();
