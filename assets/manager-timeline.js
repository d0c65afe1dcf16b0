/* The review's timeline as a small SVG: GMV bars per minute (left scale), the online line (right scale), the
 * online of the room's earlier sessions at the same minute from the start as a dashed "ghost" line (when given),
 * and a red mark where each alert started. Round ticks on both scales (¥10,000 / ¥20,000, not ¥14,735) and a
 * time label every 1, 2, 5, 10, 15, 30 or 60 minutes (4 to 8 of them). Drawn once per review at the container's
 * width; a review does not change.
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

  // round ticks from 0 covering top: steps of 1, 2, 2.5 or 5 × 10^k (insights/export.py does the same)
  // (whole: counts such as online viewers step by whole numbers)
  function niceTicks(top, count, whole) {
    if (!(top > 0)) return [0, 1];
    var raw = top / count, mag = Math.pow(10, Math.floor(Math.log10(raw))), step = 10 * mag;
    if (whole && raw <= 1) { raw = 1; mag = 1; }
    [1, 2, 2.5, 5, 10].some(function (m) {
      if (m * mag >= raw && !(whole && m === 2.5 && mag === 1)) { step = m * mag; return true; }
      return false;
    });
    var out = [];
    for (var i = 0; i <= Math.ceil(top / step - 1e-9); i++) out.push(i * step);
    return out;
  }

  function timeTicks(t0, t1) {
    var span = Math.max(1, (t1 - t0) / 60), step = 720;
    [1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 360].some(function (s) { if (span / s <= 6) { step = s; return true; } return false; });
    step *= 60;
    var out = [];
    for (var t = Math.ceil(t0 / step) * step; t <= t1; t += step) out.push(t);
    return out;
  }

  function hhmm(ts) {
    var d = new Date(ts * 1000), two = function (n) { return (n < 10 ? "0" : "") + n; };
    return two(d.getHours()) + ":" + two(d.getMinutes());
  }

  // ghost: [{minute_from_start, online, ...}] of the baseline (insights/baseline.py), or nothing
  lw.ManagerTimeline = function (container, timeline, lang, ghost) {
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
    var ghostPts = (ghost || []).map(function (g) { return {minute: t0 + g.minute_from_start * 60, online: g.online}; })
      .filter(function (g) { return g.minute < t1 && typeof g.online === "number"; });
    ghostPts.forEach(function (g) { omax = Math.max(omax, g.online); });
    var gTicks = niceTicks(gmax, 4), oTicks = niceTicks(omax, 4, true);
    gmax = gTicks[gTicks.length - 1];
    omax = oTicks[oTicks.length - 1];
    var x = function (ts) { return M.l + (ts - t0) / (t1 - t0) * plotW; };
    var yg = function (v) { return M.t + plotH - (gmax ? v / gmax * plotH : 0); };
    var yo = function (v) { return M.t + plotH - (omax ? v / omax * plotH : 0); };

    gTicks.forEach(function (v) {
      var y = yg(v);
      svg.appendChild(node("line", {x1: M.l, x2: W - M.r, y1: y, y2: y, "class": "lw-m-grid"}));
      svg.appendChild(node("text", {x: M.l - 6, y: y + 4, "text-anchor": "end", "class": "lw-m-axis lw-m-axis-gmv"},
        v < 1000 && v === Math.round(v) ? "¥" + v : lw.fmt("money", lang, v)));   // ¥500, not ¥500.00
    });
    oTicks.forEach(function (v) {
      svg.appendChild(node("text", {x: W - M.r + 6, y: yo(v) + 4, "class": "lw-m-axis lw-m-axis-online"},
        lw.fmt("int", lang, v)));
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
    if (ghostPts.length) {
      var gd = ghostPts.map(function (p, i) {
        return (i ? "L" : "M") + (x(p.minute) + step / 2).toFixed(1) + "," + yo(p.online).toFixed(1);
      }).join("");
      var gp = node("path", {d: gd, "class": "lw-m-line-ghost"});
      gp.appendChild(node("title", {}, lw.t(lang, "m_ghost")));
      svg.appendChild(gp);
    }

    alerts.forEach(function (a) {
      if (a.ts < t0 || a.ts > t1) return;
      var g = node("g", {"class": "lw-m-mark", "data-severity": a.severity || "info"});
      g.appendChild(node("title", {}, (a.rule || "") + " · " + lw.t(lang, a.severity || "info") + " · " + hhmm(a.ts)));
      g.appendChild(node("line", {x1: x(a.ts), x2: x(a.ts), y1: M.t, y2: M.t + plotH}));
      g.appendChild(node("circle", {cx: x(a.ts), cy: M.t + 4, r: 4}));
      svg.appendChild(g);
    });

    timeTicks(t0, t1).forEach(function (ts) {
      var at = x(ts);
      svg.appendChild(node("text", {x: at, y: H - 6, "class": "lw-m-axis lw-m-axis-time",
                                    "text-anchor": at - M.l < 16 ? "start" : W - M.r - at < 16 ? "end" : "middle"}, hhmm(ts)));
    });
  };
})();
