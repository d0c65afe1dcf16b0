/* The bars of the Funnel and Sources panels (components/panels.py), on every screen that shows them: the
 * funnel on a log scale (its stages span orders of magnitude), sources linear against the largest, and the
 * paid share of GMV. Elements are found once; `render` writes only widths and text that changed. */
(function () {
  "use strict";
  var lw = window.livewall;
  var FUNNEL = ["impressed", "entered", "product_viewers", "product_clickers", "orderers", "buyers"];
  var SOURCES = ["recommend", "paid", "short_video", "follow", "search", "other"];

  function logWidth(v, max) {
    if (!v || !max) return 0;
    return Math.max(4, 100 * Math.log10(v + 1) / Math.log10(max + 1));
  }

  lw.Bars = function (root) {
    var D = lw.dom;
    var funnelBars = FUNNEL.map(function (s) { return root.querySelector('[data-bar="funnel.' + s + '"]'); });
    var sourceBars = SOURCES.map(function (s) { return root.querySelector('[data-bar="sources.' + s + '.visits"]'); });
    var paidBar = root.querySelector('[data-derived="paid_gmv_share_bar"]');
    var paidNum = root.querySelector('[data-derived="paid_gmv_share"]');
    return {
      render: function (m, lang) {
        var fn = m.funnel || {}, max = 0;
        FUNNEL.forEach(function (s) { if (fn[s] > max) max = fn[s]; });
        FUNNEL.forEach(function (s, i) { D.setWidth(funnelBars[i], logWidth(fn[s], max)); });
        var src = m.sources || {}, smax = 0;
        SOURCES.forEach(function (s) { if (src[s] && src[s].visits > smax) smax = src[s].visits; });
        SOURCES.forEach(function (s, i) {
          D.setWidth(sourceBars[i], smax ? Math.max(1, 100 * (src[s] ? src[s].visits : 0) / smax) : 0);
        });
        var share = m.gmv ? (m.paid_gmv || 0) / m.gmv : null;
        D.setWidth(paidBar, share === null ? 0 : 100 * share);
        D.setText(paidNum, lw.fmt("pct", lang, share));
      }
    };
  };
})();
