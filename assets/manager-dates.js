/* Sessions by date across every room the person may read (GET /api/sessions?from&to&tz), on the manager's
 * overview: pick a date range (the last 7 days at first), see each session's room, title, start, length and GMV,
 * and open its review. Read on a person's click (and once when the page opens), never on a timer.
 */
(function () {
  "use strict";
  var lw = window.livewall;
  var DAY_MS = 86400000;

  function iso(d) {
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate());
  }

  function dateInput(value, label) {
    var el = document.createElement("input");
    el.type = "date";
    el.value = value;
    el.setAttribute("aria-label", label);
    return el;
  }

  // ctx: lang, href(room, session) (the page's URL for a review)
  lw.ManagerDates = function (box, ctx) {
    var D = lw.dom, lang = ctx.lang, tools = box.querySelector(".lw-m-dates-tools");
    var tbody = box.querySelector("tbody"), status = box.querySelector(".lw-m-dates-status");
    var today = new Date(), tz = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    var from = dateInput(iso(new Date(today.getTime() - 6 * DAY_MS)), lw.t(lang, "m_dates_from"));
    var to = dateInput(iso(today), lw.t(lang, "m_dates_to"));
    var go = D.el("button", "lw-m-dates-go", lw.t(lang, "m_dates_show"));
    go.type = "button";
    tools.replaceChildren(from, D.el("span", "", "–"), to, go);
    var asked = 0;

    function load() {
      var mine = ++asked, q = new URLSearchParams({tz: tz, limit: "200"});
      if (from.value) q.set("from", from.value);
      if (to.value) q.set("to", to.value);
      box.setAttribute("data-state", "loading");
      fetch("/api/sessions?" + q.toString()).then(function (r) {
        return r.json().then(function (b) { if (!r.ok) throw new Error(b.error || r.status); return b; });
      }).then(function (body) {
        if (mine !== asked) return;
        var rows = (body.sessions || []).map(function (s) {
          var tr = D.el("tr");
          tr.setAttribute("data-session", s.session);
          tr.appendChild(D.el("td", "", new Date(s.started * 1000).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB",
            {month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false})));
          tr.appendChild(D.el("td", "lw-m-col-name", s.room));
          tr.appendChild(D.viewer(D.el("td", "lw-m-col-name lw-m-dates-title", s.title || "")));
          tr.appendChild(D.el("td", "", s.ended === null || s.ended === undefined ? lw.t(lang, "m_running") :
            lw.fmt.clock(s.ended - s.started)));
          tr.appendChild(D.el("td", "", lw.fmt("money", lang, s.gmv)));
          var a = D.el("a", "lw-m-dates-open", lw.t(lang, "m_dates_open"));
          a.href = ctx.href(s.room, s.session);
          var td = D.el("td");
          td.appendChild(a);
          tr.appendChild(td);
          return tr;
        });
        tbody.replaceChildren.apply(tbody, rows);
        D.setText(status, rows.length ? lw.t(lang, "m_dates_count", {n: body.total}) : lw.t(lang, "m_dates_none"));
        box.setAttribute("data-state", "ready");
      }).catch(function (e) {
        if (mine !== asked) return;
        box.setAttribute("data-state", "failed");
        D.setText(status, lw.t(lang, "m_load_failed", {why: e.message}));
      });
    }

    go.addEventListener("click", load);
    load();
    return {reload: load};
  };
})();
