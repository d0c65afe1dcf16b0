/* How the screens write numbers: one rule for money on every screen, in both languages (README "Money on the
 * screens"), 万/亿 in Chinese and K/M/B in English for large values, "—" for a rate whose denominator is zero
 * (null in the frame). One function per `data-fmt` kind.
 *
 * Money is written in a unit chosen for a *place* (a tile's GMV, a table column, the hero with the net GMV
 * beside it), from the largest value the place shows, so one place never mixes ¥50.2万 with ¥48,857:
 *   price       always yuan with cents, never compact: ¥1,131.90
 *   money       one figure read on its own: yuan with cents below 10万 (zh) / 1M (en), then 万/亿 or M/B
 *   money-hero  as money, with more digits in 万/亿 and M/B, so that it visibly counts up
 *   money-tile  compact places (tiles, tables' big sums): cents only when the place's largest is under ¥1,000,
 *               whole yuan under ¥100,000, then 万/亿 (zh) or K/M/B (en)
 * An element joins a place by `data-place="<name>"` (every element of that name shares one unit), or follows
 * another figure's unit by `data-scale="<metric>"` (the net GMV follows the hero GMV): livewall-dom.js. */
(function () {
  "use strict";
  var lw = window.livewall;
  var DASH = "\u2014";
  var FAR_BELOW = 0.5;   // a paid ROI under half its target is bad, not merely below
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

  // -- money: a unit {div, suffix, decimals} for a place whose largest absolute value is `top` ----------------

  function unit(div, suffix, decimals) { return {div: div, suffix: suffix, decimals: decimals, key: suffix + decimals}; }

  var MONEY_UNITS = {
    "money": function (lang, top) {
      if (lang === "zh") return top < 1e5 ? unit(1, "", 2) : top < 1e8 ? unit(1e4, "万", 2) : unit(1e8, "亿", 2);
      return top < 1e6 ? unit(1, "", 2) : top < 1e9 ? unit(1e6, "M", 2) : unit(1e9, "B", 2);
    },
    "money-hero": function (lang, top) {
      if (lang === "zh") return top < 1e5 ? unit(1, "", 2) : top < 1e8 ? unit(1e4, "万", 2) : unit(1e8, "亿", 4);
      return top < 1e6 ? unit(1, "", 2) : top < 1e9 ? unit(1e6, "M", 4) : unit(1e9, "B", 4);
    },
    "money-tile": function (lang, top) {
      if (top < 1e3) return unit(1, "", 2);
      if (top < 1e5) return unit(1, "", 0);
      if (lang === "zh") return top < 1e6 ? unit(1e4, "万", 2) : top < 1e8 ? unit(1e4, "万", 1) : unit(1e8, "亿", 2);
      return top < 1e6 ? unit(1e3, "K", 1) : top < 1e9 ? unit(1e6, "M", 2) : unit(1e9, "B", 2);
    },
    "price": function () { return unit(1, "", 2); }
  };

  function moneyIn(lang, v, u) {
    var text = grouped(lang, Math.abs(v) / u.div, u.decimals);
    return (v < 0 && /[1-9]/.test(text) ? "-¥" : "¥") + text + u.suffix;
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

  // A suggestion's confidence as a chance, never a false certainty: 0.9996 reads ">99%", not "100.0%".
  function chance(lang, v) {
    if (v >= 0.995) return ">99%";
    if (v < 0.01) return "<1%";
    return grouped(lang, Math.round(v * 100), 0) + "%";
  }

  var KINDS = {"int": int, "pct": pct, "ratio": ratio, "dur": dur, "stock": stock, "chance": chance};
  // what a null says where "—" alone would be unclear
  var NULLS = {"target": "no_target"};
  KINDS.target = ratio;

  lw.fmt = function (kind, lang, v, top) {
    if (v === null || v === undefined || typeof v !== "number" || v !== v) {
      return NULLS[kind] ? lw.t(lang, NULLS[kind]) : DASH;
    }
    if (MONEY_UNITS[kind]) return moneyIn(lang, v, lw.fmt.unit(kind, lang, Math.max(Math.abs(v), top || 0)));
    return (KINDS[kind] || int)(lang, v);
  };
  lw.fmt.clock = clock;
  lw.fmt.hhmm = hhmm;
  lw.fmt.DASH = DASH;
  lw.fmt.isMoney = function (kind) { return !!MONEY_UNITS[kind]; };
  // the unit a money place writes in when its largest absolute value is `top`
  lw.fmt.unit = function (kind, lang, top) { return MONEY_UNITS[kind](lang, top); };

  // 23:41, the local time of day of an epoch time (when a decision was taken)
  function hhmm(ts) {
    var d = new Date(ts * 1000), two = function (n) { return (n < 10 ? "0" : "") + n; };
    return two(d.getHours()) + ":" + two(d.getMinutes());
  }

  function signedStep(action, pct) {
    if (typeof pct !== "number") return "";
    return (/^lower|^pause/.test(action) ? "\u2212" : "+") + grouped("en", Math.abs(pct), Math.abs(pct) % 1 ? 1 : 0) + "%";
  }

  // What a suggestion says beside its action and reason, as text for each screen (wall, manager):
  //   change      what it would change from what to what: "Budget ¥6,568/h → ¥4,598/h (−30%)"
  //   confidence  how likely it pays off, or "" (a hold changes nothing: nothing to be sure of)
  //   reverses    "Reverses Lower budget −30% approved 23:41 by amy", or ""
  //   updated     "Updated 23:44" when this snapshot replaced one shown before (its figures are new), or ""
  lw.suggestionText = function (lang, s) {
    var from = s.from_budget, to = s.new_budget, change = "", step = signedStep(s.action, s.step_pct);
    var top = Math.max(Math.abs(from || 0), Math.abs(to || 0));
    // budgets per hour are not prices: the compact rule, one unit for both ends of the arrow
    var money = function (v) { return lw.fmt("money-tile", lang, v, top); };
    if (s.action === "pause") {
      change = typeof from === "number" ? lw.t(lang, "sug_pause", {from: money(from)}) : "";
    } else if (typeof to === "number") {
      change = from === 0 ? lw.t(lang, "sug_resume", {to: money(to)}) :
        typeof from === "number" ? lw.t(lang, "sug_budget", {from: money(from), to: money(to)}) :
        lw.t(lang, "sug_budget_to", {to: money(to)});
    } else if (typeof s.new_roi_target === "number") {
      change = lw.t(lang, "sug_roi_target", {from: lw.fmt("target", lang, s.from_roi_target),
                                             to: lw.fmt("ratio", lang, s.new_roi_target)});
    }
    if (change && step && s.action !== "pause") change += " (" + step + ")";
    var rev = s.reverses, reverses = "";
    if (rev) {
      reverses = lw.t(lang, "sug_reverses", {
        what: lw.t(lang, rev.action) + (rev.step_pct ? " " + signedStep(rev.action, rev.step_pct) : ""),
        state: lw.t(lang, rev.state === "applied" ? "applied" : "approved").toLowerCase(),
        at: rev.decided_at ? hhmm(rev.decided_at) : "?", by: rev.decided_by || "?"});
    }
    return {
      change: change,
      confidence: s.action !== "hold" && typeof s.confidence === "number" ?
        lw.t(lang, "confidence", {p: chance(lang, s.confidence)}) : "",
      reverses: reverses,
      updated: s.replaces && s.created ? lw.t(lang, "sug_updated", {at: hhmm(s.created)}) : ""
    };
  };

  // Paid ROI against its target: "good" at or above it, "warn" below, "bad" under half of it (a paid ROI of 0
  // with spend is bad), "none" without spend (paid ROI null) or without a target.
  lw.fmt.vsTarget = function (value, target) {
    if (typeof value !== "number" || typeof target !== "number" || !(target > 0)) return "none";
    return value >= target ? "good" : value >= target * FAR_BELOW ? "warn" : "bad";
  };
})();
