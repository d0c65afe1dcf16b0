/* Every phrase the screens build at run time, in Chinese and English: the JavaScript's one source (each screen's
 * own under its comment). Static labels come with the page (components/i18n.py). `lang` is ?lang= when given,
 * else the browser's first language. */
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
    // livewall-screen.js: the language switch and a room that does not exist
    language: ["语言", "Language"],
    lang_zh: ["中文", "中文"],
    lang_en: ["EN", "EN"],
    unknown_room: ["没有这个直播间", "No such room"],
    unknown_room_text: ["直播间「{room}」没有发来过任何数据：名字可能拼错了。若它即将开播，开播后这里会自动显示。",
      "Room “{room}” has never sent any data: the name may be misspelt. If it is about to go live, this screen fills in by itself when it does."],
    unknown_room_list: ["现有的直播间：", "Rooms there are:"],
    unknown_room_none: ["还没有任何直播间发来数据。", "No room has sent any data yet."],
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
    more_alerts: ["另有 {n} 条告警", "{n} more alerts"],
    // the assistant's tablet (assistant.js)
    as_open: ["{n} 条待处理", "{n} open"],
    // the manager (manager*.js)
    m_connected: ["已连接", "Connected"],
    m_stale_all: ["全部直播间数据延迟 {age}", "Every room's data is {age} old"],
    firing: ["告警中", "Firing"],
    m_for: ["推送：{who}", "For: {who}"],
    m_wall: ["大屏", "wall"],
    m_assistant: ["助播", "assistant"],
    m_manager: ["经理", "manager"],
    m_times: ["×{n}", "×{n}"],
    m_running: ["直播中", "running"],
    m_loading: ["加载中…", "Loading…"],
    m_load_failed: ["无法读取：{why}", "Could not load: {why}"],
    m_span: ["{from} – {to}", "{from} – {to}"],
    m_approve: ["批准", "Approve"],
    m_reject: ["驳回", "Reject"],
    m_sending: ["提交中…", "Sending…"],
    m_conflict: ["已被他人先处理：{why}", "Someone else decided first: {why}"],
    m_gone: ["该建议已被新的建议取代", "This suggestion has been replaced by a newer one"],
    m_failed: ["操作失败：{why}", "Failed: {why}"],
    m_decided_by: ["{state} · {by} · {at}", "{state} by {by} at {at}"],
    m_to_budget: ["预算调至 {v}/小时", "budget to {v}/h"],
    m_to_roi: ["ROI 目标调至 {v}", "ROI target to {v}"],
    m_fig_paid_roi: ["付费ROI {v}", "paid ROI {v}"],
    m_fig_target: ["目标 {v}", "target {v}"],
    m_fig_spend: ["消耗 {v}", "spent {v}"],
    // the manager's link manager (manager-links.js)
    l_kind_share: ["分享链接（给人，会过期）", "Share link (for a person; expires)"],
    l_kind_device: ["设备链接（大屏电脑，保持登录）", "Device link (a wall PC; stays signed in)"],
    l_share: ["分享", "share"],
    l_device: ["设备", "device"],
    l_wall_all: ["大屏 · 轮播全部直播间", "Wall · every room in rotation"],
    l_wall_matrix: ["大屏 · 矩阵", "Wall · matrix of rooms"],
    l_wall_room: ["大屏 · {room}", "Wall · {room}"],
    l_tablet: ["助播平板 · {room}", "Assistant's tablet · {room}"],
    l_manager_room: ["经理视图 · {room}（只读）", "Manager view · {room} (read-only)"],
    l_review: ["复盘 · {session}", "Review · {session}"],
    l_1h: ["1 小时", "1 hour"],
    l_8h: ["8 小时", "8 hours"],
    l_1d: ["1 天", "1 day"],
    l_7d: ["7 天", "7 days"],
    l_30d: ["30 天", "30 days"],
    l_1y: ["1 年", "1 year"],
    l_never: ["直到撤销", "Until revoked"],
    l_all_rooms: ["全部直播间", "every room"],
    l_expires: ["{when}后到期", "expires in {when}"],
    l_days: ["{n} 天", "{n} days"],
    l_no_expiry: ["不过期", "no expiry"],
    l_by: ["由 {by} 创建", "made by {by}"],
    l_made: ["已生成：{label}", "Made: {label}"],
    l_copied: ["已复制", "Copied"],
    l_revoked: ["已撤销：{label}", "Revoked: {label}"],
    l_revoke: ["撤销", "Revoke"],
    l_failed: ["失败：{why}", "Failed: {why}"],
    // livewall-format.js
    sold_out: ["售罄", "Sold out"],
    oversold: ["超卖 {n}", "Oversold {n}"]
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

  // a room whose session ended longer ago than the grace (settings.ENDED_GRACE_MINUTES) leaves the wall's rotation
  // and matrix. Its end is measured on the server's clock: the later of the end's event time and the frame's write
  // (a replayed session's end may carry a time long past).
  lw.endedLongAgo = function (frame, now) {
    var m = frame && frame.metrics;
    if (!m || m.ended === null || m.ended === undefined) return false;
    return now - Math.max(m.ended, frame.updated || 0) > lw.constants.ended_grace_s;
  };

  lw.age = function (lang, s) {
    s = Math.max(0, Math.floor(s));
    if (s < 120) return lw.t(lang, "seconds", {n: s});
    if (s < 7200) return lw.t(lang, "minutes", {n: Math.floor(s / 60)});
    return lw.t(lang, "hours", {n: Math.floor(s / 3600)});
  };
})();
