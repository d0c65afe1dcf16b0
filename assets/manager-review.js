/* A room's sessions and the review of one (复盘), both read from the API on a person's click (opening the room,
 * choosing a session); the list is read again when a frame shows a session starting or ending.
 *
 * Money in a review is exact to the cent (it is a statement, not a glance); each profit figure also carries its
 * raw value in data-value.
 */
(function () {
  "use strict";
  var lw = window.livewall;

  var money2 = {};
  function exact(lang, v) {
    if (typeof v !== "number") return lw.fmt.DASH;
    var f = money2[lang] || (money2[lang] = new Intl.NumberFormat(lang === "zh" ? "zh-CN" : "en-US",
      {minimumFractionDigits: 2, maximumFractionDigits: 2}));
    return (v < 0 ? "-¥" : "¥") + f.format(Math.abs(v));
  }

  function when(ts) {
    var d = new Date(ts * 1000), two = function (n) { return (n < 10 ? "0" : "") + n; };
    return two(d.getMonth() + 1) + "-" + two(d.getDate()) + " " + two(d.getHours()) + ":" + two(d.getMinutes());
  }

  function getJson(url) {
    return fetch(url).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) throw new Error(body.error || String(r.status));
        return body;
      });
    });
  }

  // ctx: lang, now(), pick(session) (the URL follows the chosen session)
  lw.ManagerReview = function (box, ctx) {
    var D = lw.dom, lang = ctx.lang;
    var listEl = box.querySelector(".lw-m-session-list"), empty = box.querySelector(".lw-m-empty");
    var panel = box.querySelector(".lw-m-review"), f = D.fields(panel);
    var figs = {};
    panel.querySelectorAll("[data-profit]").forEach(function (el) { figs[el.getAttribute("data-profit")] = el; });
    var chart = panel.querySelector(".lw-m-chart");
    var tbody = panel.querySelector(".lw-m-review-products tbody");
    var room = null, current = null, sessions = [], asked = 0;

    function renderList() {
      var buttons = sessions.map(function (s) {
        var b = D.el("button", "lw-m-session");
        b.type = "button";
        b.setAttribute("data-session", s.session);
        b.setAttribute("aria-pressed", s.session === current ? "true" : "false");
        b.appendChild(D.el("span", "lw-m-session-when", when(s.started)));
        b.appendChild(D.el("span", "lw-m-session-len", s.ended === null || s.ended === undefined ?
          lw.t(lang, "m_running") : lw.fmt.clock(s.ended - s.started)));
        b.appendChild(D.el("span", "lw-m-session-gmv", lw.fmt("money", lang, s.gmv)));
        if (s.title) b.appendChild(D.viewer(D.el("span", "lw-m-session-title", s.title)));
        b.addEventListener("click", function () { ctx.pick(s.session); open(s.session); });
        return b;
      });
      listEl.replaceChildren.apply(listEl, buttons);
      empty.hidden = sessions.length > 0;
    }

    function loadSessions() {
      var want = room;
      getJson("/api/rooms/" + encodeURIComponent(want) + "/sessions").then(function (body) {
        if (room !== want) return;
        sessions = body.sessions || [];
        renderList();
      }).catch(function () { if (room === want) { sessions = []; renderList(); } });
    }

    function profit(p) {
      Object.keys(figs).forEach(function (k) {
        var v = p[k], el = figs[k];
        D.setText(el, k === "roi" || k === "break_even_roi" ? lw.fmt("ratio", lang, v) :
          k === "cost_coverage" ? lw.fmt("pct", lang, v) : exact(lang, v));
        el.setAttribute("data-value", v === null || v === undefined ? "" : String(v));
        el.classList.toggle("is-negative", typeof v === "number" && v < 0);
      });
    }

    function products(rows) {
      var trs = rows.slice().sort(function (a, b) { return (b.gmv || 0) - (a.gmv || 0); }).map(function (p) {
        var tr = D.el("tr"), cogs = typeof p.cost === "number" ? p.cost * (p.units || 0) : null;
        tr.setAttribute("data-sku", p.sku);
        var name = D.el("td", "lw-m-col-name");
        name.appendChild(D.viewer(D.el("span", "lw-m-name", p.name || p.sku)));
        name.title = p.name || p.sku;
        tr.appendChild(name);
        [["price", exact(lang, p.price)], ["units", lw.fmt("int", lang, p.units)], ["gmv", exact(lang, p.gmv)],
         ["cost", exact(lang, cogs)], ["margin", cogs === null ? lw.fmt.DASH : exact(lang, (p.gmv || 0) - cogs)],
         ["stock", lw.fmt("stock", lang, p.stock)]].forEach(function (c) {
          var td = D.el("td", "", c[1]);
          td.setAttribute("data-col", c[0]);
          tr.appendChild(td);
        });
        return tr;
      });
      tbody.replaceChildren.apply(tbody, trs);
    }

    function render(rv) {
      var t = rv.totals || {};
      D.setText(f.review_session, rv.session);
      D.setText(f.review_span, t.started ? lw.t(lang, "m_span", {from: when(t.started),
        to: t.ended ? when(t.ended) : lw.t(lang, "m_running")}) : "");
      profit(rv.profit || {});
      products(rv.products || []);
      panel.setAttribute("data-state", "ready");
      lw.ManagerTimeline(chart, rv.timeline || [], lang);
    }

    function open(session) {
      current = session || null;
      listEl.querySelectorAll("[data-session]").forEach(function (b) {
        b.setAttribute("aria-pressed", b.getAttribute("data-session") === current ? "true" : "false");
      });
      panel.setAttribute("data-session", current || "");
      if (!current) { panel.setAttribute("data-state", "none"); return; }
      var mine = ++asked;
      panel.setAttribute("data-state", "loading");
      D.setText(f.review_status, lw.t(lang, "m_loading"));
      getJson("/api/sessions/" + encodeURIComponent(current) + "/review").then(function (rv) {
        if (mine !== asked) return;
        render(rv);
        // the review opens at the foot of a long page: bring it into sight
        panel.scrollIntoView({block: "start", behavior: "smooth"});
      }).catch(function (e) {
        if (mine !== asked) return;
        panel.setAttribute("data-state", "failed");
        D.setText(f.review_status, lw.t(lang, "m_load_failed", {why: e.message}));
      });
    }

    return {
      // the room opened (null: none) and the session whose review to show (null: none yet)
      show: function (name, session) {
        room = name;
        sessions = [];
        listEl.replaceChildren();
        empty.hidden = true;
        current = null;
        panel.setAttribute("data-state", "none");
        if (!name) return;
        loadSessions();
        if (session) open(session);
      },
      open: open,
      reload: function () { if (room) loadSessions(); }
    };
  };
})();
