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
    confidence: ["把握 {p}", "{p} likely"],
    noted: ["仅记录", "Noted"],
    sug_updated: ["更新于 {at}", "Updated {at}"],
    sug_reverses: ["将撤销 {at} 由 {by} {state}的 {what}", "Reverses {what} {state} {at} by {by}"],
    sug_budget: ["预算 {from}/小时 → {to}/小时", "Budget {from}/h → {to}/h"],
    sug_budget_to: ["预算调至 {to}/小时", "Budget to {to}/h"],
    sug_roi_target: ["ROI 目标 {from} → {to}", "ROI target {from} → {to}"],
    sug_resume: ["已暂停 → {to}/小时", "Paused → {to}/h"],
    sug_pause: ["预算 {from}/小时 → 暂停", "Budget {from}/h → paused"],
    sug_step: ["{sign}{p}%", "{sign}{p}%"],
    m_superseded: ["数字已更新：请查看新的建议后再决定", "The figures were updated: read the new suggestion before deciding"],
    m_noted: ["保持不变，无需审批", "Nothing to change; no approval needed"],
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
    m_group_rooms: ["{n} 个直播间", "Rooms: {n}"],
    m_sorted: ["已按{col}{dir}排序", "Sorted by {col}, {dir}"],
    m_asc: ["升序", "ascending"],
    m_desc: ["降序", "descending"],
    m_page: ["第 {n} / {m} 页 · 共 {total} 件", "Page {n} of {m} · {total} products"],
    m_no_match: ["没有匹配的商品", "No product matches"],
    m_search_ph: ["商品名或货号", "Name or SKU"],
    m_search_failed: ["查询失败：{why}", "Search failed: {why}"],
    as_put_on: ["上台", "Put on"],
    as_on_stage: ["讲解中", "On stage"],
    as_put_done: ["已上台：{name}", "On stage: {name}"],
    as_off_done: ["已下播：{name}", "Taken off: {name}"],
    as_restock_done: ["已请求补货：{name}", "Restock asked: {name}"],
    as_off_ask: ["把「{name}」下播？讲解会中断。", "Take “{name}” off stage? The pitch stops."],
    as_act_failed: ["没有成功：{why}", "Not done: {why}"],
    as_search_ph: ["搜索商品名或货号", "Search a name or SKU"],
    as_page: ["第 {n} / {m} 页 · 共 {total} 件", "Page {n} of {m} · {total} products"],
    as_no_match: ["没有匹配的商品", "No product matches"],
    as_stock_n: ["库存 {n}", "Stock {n}"],
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
    m_fig_paid_roi: ["付费ROI {v}", "paid ROI {v}"],
    m_fig_target: ["目标 {v}", "target {v}"],
    m_fig_spend: ["消耗 {v}", "spent {v}"],
    // the review (manager-review.js)
    m_unknown: ["未知", "unknown"],
    m_dates_from: ["开始日期", "From"],
    m_dates_to: ["结束日期", "To"],
    m_dates_show: ["查看", "Show"],
    m_dates_open: ["复盘 →", "Review →"],
    m_dates_count: ["共 {n} 场", "{n} sessions"],
    m_dates_none: ["这段时间没有场次", "No session in these dates"],
    m_search: ["搜索商品（编号或名称）", "Search products (sku or name)"],
    m_coverage: ["成本已知的商品占成交 {pct}；{n} 个商品成本未知：商品成本只含已知部分，毛利未知",
                 "Products with a known cost make {pct} of GMV; {n} have no cost: cost of goods covers the known part only, gross profit is unknown"],
    m_coverage_all: ["全部售出商品的成本已知", "Every sold product's cost is known"],
    m_late_note: ["{n} 条事件在本场结束后才到达（成交 {gmv}，退款 {refund}），未计入本场合计",
                  "{n} events arrived after the session was closed (GMV {gmv}, refunds {refund}); not in its totals"],
    m_compare_note: ["与本直播间前 {n} 场在同一开播分钟的均值相比，共 {minutes} 分钟，最差的在前",
                     "Against the mean of the room's {n} earlier sessions at the same minutes from the start ({minutes} min), worst first"],
    m_compare_none: ["本直播间没有更早的场次可对比", "No earlier session of this room to compare with"],
    m_cmp_gmv: ["成交金额", "GMV"],
    m_cmp_online: ["平均在线", "Avg. online"],
    m_cmp_visits: ["观看次数", "Visits"],
    m_cmp_paid_orders: ["成交单数", "Paid orders"],
    m_whole_session: ["全场", "Whole session"],
    m_ghost: ["往期均值", "baseline"],
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
    // manager-connectors.js
    c_ok: ["正常", "OK"],
    c_failing: ["出错 {n} 次", "{n} errors in a row"],
    c_waiting: ["等待首次运行", "Not run yet"],
    c_last: ["上次成功 {age}前", "Last success {age} ago"],
    c_never: ["尚未成功", "No success yet"],
    c_lag: ["延迟 {s} 秒", "Lag {s} s"],
    c_next: ["{s} 秒后下次拉取", "Next poll in {s} s"],
    // livewall-format.js
    no_target: ["无目标", "no target"],
    cvr_over: ["* 至少 {n} 位成交用户没有点击记录（如回放数据）", "* buyers without a click: at least {n} (e.g. replayed data)"],
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
