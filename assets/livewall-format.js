/* How the screens write numbers: ¥ for money, 万/亿 in Chinese and K/M/B in English for large values,
 * "—" for a rate whose denominator is zero (null in the frame). One function per `data-fmt` kind. */
(function () {
  "use strict";
  var lw = window.livewall;
  var DASH = "\u2014";
  var cache = {};

  function grouped(lang, v, decimals) {
    var key = lang + decimals;
    var f = cache[key] || (cache[key] = new Intl.NumberFormat(lang === "zh" ? "zh-CN" : "en-US",
      {minimumFractionDigits: decimals, maximumFractionDigits: decimals}));
    return f.format(v);
  }

  // 3-4 significant digits with the language's large-number unit: 1.23万, 12.3万, 1,234万, 1.23亿 / 123.4K, 1.23M
  function compact(lang, v) {
    var a = Math.abs(v), units = lang === "zh" ? [[1e8, "亿"], [1e4, "万"]] : [[1e9, "B"], [1e6, "M"], [1e3, "K"]];
    for (var i = 0; i < units.length; i++) {
      if (a >= units[i][0]) {
        var x = v / units[i][0], ax = Math.abs(x);
        return grouped(lang, x, ax < 10 ? 2 : ax < 1000 ? 1 : 0) + units[i][1];
      }
    }
    return grouped(lang, v, 0);
  }

  function int(lang, v) {
    return Math.abs(v) < 1e5 ? grouped(lang, v, 0) : compact(lang, v);
  }

  function money(lang, v) {
    var a = Math.abs(v);
    return "¥" + (a < 1000 ? grouped(lang, v, 2) : a < 1e5 ? grouped(lang, v, 0) : compact(lang, v));
  }

  // The hero GMV: as many digits as fit, so that it visibly counts up as money arrives.
  function moneyHero(lang, v) {
    var a = Math.abs(v);
    if (a < 1e5) return "¥" + grouped(lang, v, 2);
    if (lang === "zh") return a < 1e8 ? "¥" + grouped(lang, v / 1e4, 2) + "万" : "¥" + grouped(lang, v / 1e8, 4) + "亿";
    return a < 1e9 ? "¥" + grouped(lang, v, 0) : "¥" + grouped(lang, v / 1e9, 4) + "B";
  }

  function moneyTile(lang, v) {
    var a = Math.abs(v);
    if (a < 1e4) return "¥" + grouped(lang, v, 0);
    if (lang === "zh") return a < 1e8 ? "¥" + grouped(lang, v / 1e4, 2) + "万" : "¥" + grouped(lang, v / 1e8, 3) + "亿";
    return a < 1e7 ? "¥" + grouped(lang, v, 0) : "¥" + grouped(lang, v / 1e6, 2) + "M";
  }

  function pct(lang, v) {
    var p = v * 100;
    return grouped(lang, p, p === 0 ? 0 : Math.abs(p) < 1 ? 2 : 1) + "%";
  }

  function ratio(lang, v) {
    return grouped(lang, v, Math.abs(v) < 100 ? 2 : 0);
  }

  function dur(lang, s) {
    s = Math.max(0, Math.round(s));
    var h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    if (lang === "zh") return h ? h + "时" + two(m) + "分" : m ? m + "分" + two(sec) + "秒" : sec + "秒";
    return h ? h + "h " + two(m) + "m" : m ? m + "m " + two(sec) + "s" : sec + "s";
  }

  function stock(lang, v) {
    if (v > 0) return int(lang, v);
    if (v === 0) return lw.t(lang, "sold_out");
    return lw.t(lang, "oversold", {n: int(lang, -v)});
  }

  // 01:23:45, for how long a session has run
  function clock(s) {
    s = Math.max(0, Math.floor(s));
    var h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
    return (h < 10 ? "0" : "") + h + ":" + (m < 10 ? "0" : "") + m + ":" + (sec < 10 ? "0" : "") + sec;
  }

  var KINDS = {"int": int, "money": money, "money-hero": moneyHero, "money-tile": moneyTile, "pct": pct,
               "ratio": ratio, "dur": dur, "stock": stock};

  lw.fmt = function (kind, lang, v) {
    if (v === null || v === undefined || typeof v !== "number" || v !== v) return DASH;
    return (KINDS[kind] || int)(lang, v);
  };
  lw.fmt.clock = clock;
  lw.fmt.DASH = DASH;
})();
