/* The manager's alert list: every alert of every room, whatever its audience (the wall's, the assistant's),
 * firing ones first, each with who else sees it and an Acknowledge button while it fires. The shared alerts
 * module (livewall-alerts.js) keeps the alerts and hands over the whole list whenever it changes; rows are kept
 * by alert id and updated in place.
 */
(function () {
  "use strict";
  var lw = window.livewall;
  var MAX_ROWS = 50;

  function hhmmss(ts) {
    var d = new Date(ts * 1000), two = function (n) { return (n < 10 ? "0" : "") + n; };
    return two(d.getHours()) + ":" + two(d.getMinutes()) + ":" + two(d.getSeconds());
  }

  // ctx: lang, user (who has the page open), ack(alert, button), onCount(firing alerts of every room)
  lw.ManagerAlertList = function (box, ctx) {
    var D = lw.dom, lang = ctx.lang;
    var list = box.querySelector(".lw-m-alert-list"), empty = box.querySelector(".lw-m-alerts-empty");
    var rows = new Map(), all = [], only = null;

    function audience(a) {
      if (!a.audience || !a.audience.length) return "";
      return lw.t(lang, "m_for", {who: a.audience.map(function (w) { return lw.t(lang, "m_" + w); }).join(" · ")});
    }

    function row(a) {
      var r = rows.get(a.id);
      if (r) return r;
      var el = D.el("div", "lw-m-alert");
      el.setAttribute("data-alert-id", a.id);
      el.setAttribute("data-alert", a.rule);
      var head = D.el("div", "lw-m-alert-head");
      r = {el: el, a: a};
      r.sev = head.appendChild(D.el("span", "lw-m-chip lw-m-alert-sev"));
      r.room = head.appendChild(D.el("span", "lw-m-alert-room"));
      r.time = head.appendChild(D.el("span", "lw-m-alert-time"));
      r.count = head.appendChild(D.el("span", "lw-m-alert-count-n"));
      r.audience = head.appendChild(D.el("span", "lw-m-alert-audience"));
      r.title = D.el("div", "lw-m-alert-title");
      r.msg = D.el("div", "lw-m-alert-msg");
      // a click shows a shortened quoted name whole (the box scrolls), another shortens it again
      r.msg.addEventListener("click", function () { D.setFull(r.msg, !r.msg.classList.contains("is-full")); });
      var foot = D.el("div", "lw-m-alert-foot");
      r.state = foot.appendChild(D.el("span", "lw-m-alert-state"));
      r.button = foot.appendChild(D.el("button", "lw-m-btn lw-m-btn-ack", lw.t(lang, "ack")));
      r.button.type = "button";
      r.button.setAttribute("data-ack", a.id);
      // the latest record of the alert, not the one the row was made for
      r.button.addEventListener("click", function () { ctx.ack(r.a, r.button); });
      [head, r.title, r.msg, foot].forEach(function (n) { el.appendChild(n); });
      rows.set(a.id, r);
      return r;
    }

    function fill(r, a) {
      r.a = a;
      var firing = a.state === "firing";
      D.setAttr(r.el, "data-severity", a.severity);
      D.setAttr(r.el, "data-state", a.state);
      D.setAttr(r.el, "data-room", a.room || "");
      D.setText(r.sev, lw.t(lang, a.severity));
      D.setText(r.room, a.room || "");
      D.setText(r.time, a.started ? hhmmss(a.started) : "");
      D.setText(r.count, a.count > 1 ? lw.t(lang, "m_times", {n: a.count}) : "");
      D.setText(r.audience, audience(a));
      D.setText(r.title, lw.pick(lang, a.title) || a.rule);
      D.setText(r.msg, lw.pick(lang, a.message));
      D.setText(r.state, a.acknowledged_by ? lw.t(lang, "acknowledged_by", {by: a.acknowledged_by}) +
        (a.state === "resolved" ? " · " + lw.t(lang, "resolved") : "") : lw.t(lang, a.state));
      var offered = firing && lw.may(ctx.user, "assistant", a.room);
      if (r.button.hidden === offered) {   // shown again only for a new firing, with a fresh label
        r.button.hidden = !offered;
        r.button.disabled = false;
        D.setText(r.button, lw.t(lang, "ack"));
      }
    }

    function render() {
      var items = all.filter(function (a) { return !only || a.room === only; }).slice(0, MAX_ROWS), keep = new Set();
      items.forEach(function (a) { keep.add(a.id); });
      rows.forEach(function (r, id) { if (!keep.has(id)) { r.el.remove(); rows.delete(id); } });
      items.forEach(function (a, i) {
        var r = row(a);
        fill(r, a);
        if (list.children[i] !== r.el) list.insertBefore(r.el, list.children[i] || null);
      });
      empty.hidden = items.length > 0;
    }

    return {
      // the whole list, firing first then newest first (from the shared module's onList)
      render: function (alerts) {
        all = alerts;
        render();
        ctx.onCount(alerts.filter(function (a) { return a.state === "firing"; }).length);
      },
      filter: function (room) { only = room; box.classList.toggle("is-filtered", !!room); render(); }
    };
  };
})();
