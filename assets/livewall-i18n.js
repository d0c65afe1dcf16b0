/* Phrases the screens build at run time, in Chinese and English. Static labels come with the page
 * (components/i18n.py). `lang` is ?lang= when given, else the browser's first language. */
(function () {
  "use strict";
  var lw = window.livewall = {};   // the first script (callbacks.SCRIPTS): every other one extends it

  var PHRASES = {
    live: ["实时", "Live"],
    stale: ["数据延迟 {age}", "Data {age} old"],
    stale_short: ["延迟 {age}", "{age} old"],
    seconds: ["{n} 秒", "{n} s"],
    minutes: ["{n} 分钟", "{n} min"],
    hours: ["{n} 小时", "{n} h"],
    connecting: ["正在连接…", "Connecting…"],
    reconnecting: ["连接中断，正在重连…", "Connection lost — reconnecting…"],
    unavailable: ["数据源暂不可用，恢复后自动更新", "Data source unavailable — updates resume by themselves"],
    ended: ["已下播", "Ended"],
    waiting: ["等待数据", "Waiting for data"],
    critical: ["严重", "Critical"],
    warning: ["警告", "Warning"],
    info: ["提示", "Info"],
    ack: ["确认", "Acknowledge"],
    ack_failed: ["确认失败", "Ack failed"],
    full_text: ["全文", "Full text"],
    less_text: ["收起", "Less"],
    acknowledged: ["已确认", "Acknowledged"],
    acknowledged_by: ["已由 {by} 确认", "Acknowledged by {by}"],
    resolved: ["已恢复", "Resolved"],
    more_critical: ["另有 {n} 条严重告警等待显示", "{n} more critical alerts waiting"],
    confidence: ["置信度 {p}", "{p} confidence"],
    raise_budget: ["加预算", "Raise budget"],
    lower_budget: ["降预算", "Lower budget"],
    raise_roi_target: ["提高 ROI 目标", "Raise ROI target"],
    lower_roi_target: ["降低 ROI 目标", "Lower ROI target"],
    pause: ["暂停投放", "Pause"],
    hold: ["保持", "Hold"],
    proposed: ["待审批", "Proposed"],
    approved: ["已批准", "Approved"],
    rejected: ["已驳回", "Rejected"],
    applied: ["已执行", "Applied"],
    douyin: ["抖音", "Douyin"],
    kuaishou: ["快手", "Kuaishou"],
    taobao: ["淘宝", "Taobao"],
    wechat: ["视频号", "WeChat"],
    xiaohongshu: ["小红书", "RED"],
    other: ["其他", "Other"],
    score: ["评分 {s}", "score {s}"],
    more_alerts: ["另有 {n} 条告警", "{n} more alerts"]
  };

  // a screen's own phrases ({key: [zh, en]}), added by its script
  lw.addPhrases = function (more) {
    for (var k in more) if (Object.prototype.hasOwnProperty.call(more, k)) PHRASES[k] = more[k];
  };

  lw.resolveLang = function (asked) {
    if (asked === "zh" || asked === "en") return asked;
    var prefs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || ""];
    return String(prefs[0] || "").toLowerCase().indexOf("zh") === 0 ? "zh" : "en";
  };

  lw.t = function (lang, key, vars) {
    var p = PHRASES[key];
    var s = p ? p[lang === "zh" ? 0 : 1] : key;
    if (vars) for (var k in vars) s = s.split("{" + k + "}").join(vars[k]);
    return s;
  };

  // A text that may be given per language ({zh, en}) or as one string.
  lw.pick = function (lang, value) {
    if (value && typeof value === "object") return value[lang] || value.zh || value.en || "";
    return value === null || value === undefined ? "" : String(value);
  };

  // the time of day (seconds since the epoch, on the server's clock) as the screens' headers show it
  lw.timeOfDay = function (lang, ts) {
    return new Date(ts * 1000).toLocaleTimeString(lang === "zh" ? "zh-CN" : "en-GB", {hour12: false});
  };

  // what a screen's banner says about its socket: "" while it is open
  lw.connText = function (lang, state) {
    return state === "reconnecting" || state === "connecting" || state === "unavailable" ? lw.t(lang, state) : "";
  };

  lw.age = function (lang, s) {
    s = Math.max(0, Math.floor(s));
    if (s < 120) return lw.t(lang, "seconds", {n: s});
    if (s < 7200) return lw.t(lang, "minutes", {n: Math.floor(s / 60)});
    return lw.t(lang, "hours", {n: Math.floor(s / 3600)});
  };
})();
