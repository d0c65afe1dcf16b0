/* A room's sessions and the review of one (复盘), read from the API on a person's click (opening the room,
 * choosing a session, searching, sorting, turning a page); the list is read again when a frame shows a session
 * starting or ending.
 *
 * The review's products are paged, sorted and searched by the server (GET /api/sessions/<id>/review?limit&offset
 * &q&sort): the page holds one page of rows whatever the session's size, so a 100,000-product session opens as
 * fast as a small one. Money is exact to the cent (it is a statement, not a glance); each profit figure also
 * carries its raw value in data-value. A cost nobody gave is "unknown", never ¥0.00.
 */
(function () {
  "use strict";
  var lw = window.livewall;
  var PAGE = 50, SEARCH_WAIT_MS = 250;
  // profit figures that depend on costs: null means unknown (some cost is missing), not nothing
  var COST_FIGS = {gross_profit: 1, gross_profit_known: 1, break_even_roi: 1, cost_of_goods: 1};
  var RATIO_FIGS = {roi: 1, break_even_roi: 1};

  var money2 = {};
  function exact(lang, v) {
    if (typeof v !== "number") return lw.fmt.DASH;
    var f = money2[lang] || (money2[lang] = new Intl.NumberFormat(lang === "zh" ? "zh-CN" : "en-US",
      {minimumFractionDigits: 2, maximumFractionDigits: 2}));
    return (v < 0 ? "-¥" : "¥") + f.format(Math.abs(v));
  }

  var ints = {};
  // a count written out in full (100,000, not 100.0K): a pager is read exactly
  function whole(lang, n) {
    var f = ints[lang] || (ints[lang] = new Intl.NumberFormat(lang === "zh" ? "zh-CN" : "en-US"));
    return f.format(n);
  }

  function two(n) { return (n < 10 ? "0" : "") + n; }
  function when(ts) {
    var d = new Date(ts * 1000);
    return two(d.getMonth() + 1) + "-" + two(d.getDate()) + " " + two(d.getHours()) + ":" + two(d.getMinutes());
  }
  function clockTime(ts) {
    var d = new Date(ts * 1000);
    return two(d.getHours()) + ":" + two(d.getMinutes()) + ":" + two(d.getSeconds());
  }

  function getJson(url) {
    return fetch(url).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) throw new Error(body.error || String(r.status));
        return body;
      });
    });
  }

  function cellOf(D, text, col, unknown) {
    var td = D.el("td", unknown ? "is-unknown" : "", text);
    if (col) td.setAttribute("data-col", col);
    return td;
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
    var segBody = panel.querySelector(".lw-m-review-segments tbody");
    var cmp = panel.querySelector(".lw-m-compare"), cmpBody = cmp.querySelector("tbody");
    var late = panel.querySelector(".lw-m-late");
    // dcc.Input: the <input> sits inside a container that carries the class
    var search = panel.querySelector(".lw-m-review-search input") || panel.querySelector("input.lw-m-review-search");
    var prev = panel.querySelector(".lw-m-page-prev"), next = panel.querySelector(".lw-m-page-next");
    var sortButtons = panel.querySelectorAll(".lw-m-sort");
    var room = null, current = null, sessions = [], asked = 0, pageAsked = 0;
    var query = {q: "", sort: "-gmv", offset: 0}, total = 0, timeline = [], ghost = null, searchTimer = null;

    search.placeholder = lw.t(lang, "m_search");
    search.setAttribute("aria-label", lw.t(lang, "m_search"));

    function unknown() { return lw.t(lang, "m_unknown"); }

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
        var v = p[k], el = figs[k], isUnknown = (v === null || v === undefined) && COST_FIGS[k] && k in p;
        D.setText(el, isUnknown ? unknown() : RATIO_FIGS[k] ? lw.fmt("ratio", lang, v) :
          k === "cost_coverage" ? lw.fmt("pct", lang, v) : exact(lang, v));
        el.setAttribute("data-value", v === null || v === undefined ? "" : String(v));
        el.classList.toggle("is-negative", typeof v === "number" && v < 0);
        el.classList.toggle("is-unknown", !!isUnknown);
      });
      var c = p.cost_coverage;
      D.setText(f.coverage_note, typeof c !== "number" ? "" : c >= 1 ? lw.t(lang, "m_coverage_all") :
        lw.t(lang, "m_coverage", {pct: lw.fmt("pct", lang, c), n: lw.fmt("int", lang, p.unknown_cost_products || 0)}));
      f.coverage_note.classList.toggle("is-partial", typeof c === "number" && c < 1);
    }

    function lateBlock(l) {
      late.hidden = !l || !l.count;
      if (late.hidden) return;
      D.setText(f.late_note, lw.t(lang, "m_late_note", {n: lw.fmt("int", lang, l.count), gmv: exact(lang, l.gmv),
                                                       refund: exact(lang, l.refund_amount)}));
    }

    function products(rows) {
      var trs = rows.map(function (p) {
        var tr = D.el("tr"), known = typeof p.cost === "number";
        tr.setAttribute("data-sku", p.sku);
        var name = D.el("td", "lw-m-col-name");
        name.appendChild(D.viewer(D.el("span", "lw-m-name", p.name || p.sku)));
        name.title = p.name || p.sku;
        tr.appendChild(name);
        var profitV = typeof p.profit === "number" ? p.profit : null;
        [["price", exact(lang, p.price)], ["units", lw.fmt("int", lang, p.units)],
         ["buyers", lw.fmt("int", lang, p.buyers)], ["ctr", lw.fmt("pct", lang, p.ctr)],
         ["cvr", lw.fmt("pct", lang, p.cvr)], ["gmv", exact(lang, p.gmv)],
         ["cost", known ? exact(lang, p.cost) : unknown(), !known],
         ["profit", profitV === null ? unknown() : exact(lang, profitV), profitV === null],
         ["stock", lw.fmt("stock", lang, p.stock)]].forEach(function (c) {
          var td = cellOf(D, c[1], c[0], c[2]);
          if (c[0] === "profit" && profitV !== null && profitV < 0) td.classList.add("is-negative");
          tr.appendChild(td);
        });
        return tr;
      });
      if (!trs.length) {
        var tr = D.el("tr", "lw-m-no-match"), td = D.el("td", "", lw.t(lang, "m_no_match"));
        td.colSpan = 10;
        tr.appendChild(td);
        trs = [tr];
      }
      tbody.replaceChildren.apply(tbody, trs);
    }

    function pager() {
      var pages = Math.max(1, Math.ceil(total / PAGE)), n = Math.floor(query.offset / PAGE) + 1;
      D.setText(f.page_info, lw.t(lang, "m_page", {n: whole(lang, n), m: whole(lang, pages), total: whole(lang, total)}));
      prev.disabled = n <= 1;
      next.disabled = n >= pages;
      sortButtons.forEach(function (b) {
        var key = b.getAttribute("data-sort"), on = query.sort.replace(/^-/, "") === key;
        b.setAttribute("aria-sort", on ? (query.sort.charAt(0) === "-" ? "descending" : "ascending") : "none");
      });
    }

    function segments(rv) {
      var rows = (rv.segments || []).map(function (s) {
        var tr = D.el("tr"), r = s.room || {};
        tr.setAttribute("data-sku", s.sku);
        tr.appendChild(cellOf(D, String(s.n || ""), "n"));
        var name = D.el("td", "lw-m-col-name");
        name.appendChild(D.viewer(D.el("span", "lw-m-name", s.name || s.sku)));
        tr.appendChild(name);
        roomCells(tr, [["start", clockTime(s.start)], ["seconds", lw.fmt.clock(s.seconds)],
          ["views", lw.fmt("int", lang, s.views)], ["clicks", lw.fmt("int", lang, s.clicks)],
          ["ctr", lw.fmt("pct", lang, s.ctr)], ["cvr", lw.fmt("pct", lang, s.cvr)],
          ["units", lw.fmt("int", lang, s.units)], ["gmv", exact(lang, s.gmv)]], r);
        return tr;
      });
      if (rv.session_room) {
        var tr = D.el("tr", "lw-m-seg-session");
        tr.appendChild(cellOf(D, "", "n"));
        tr.appendChild(D.el("td", "lw-m-col-name", lw.t(lang, "m_whole_session")));
        roomCells(tr, [["start", ""], ["seconds", ""], ["views", ""], ["clicks", ""], ["ctr", ""], ["cvr", ""],
                       ["units", ""], ["gmv", ""]], rv.session_room);
        rows.push(tr);
      }
      segBody.replaceChildren.apply(segBody, rows);
    }

    function roomCells(tr, cells, r) {
      cells.concat([["room.avg_online", typeof r.avg_online === "number" ? r.avg_online.toFixed(1) : lw.fmt.DASH],
        ["room.bounce_2s_rate", lw.fmt("pct", lang, r.bounce_2s_rate)],
        ["room.avg_dwell_s", typeof r.avg_dwell_s === "number" ? lw.fmt.clock(r.avg_dwell_s) : lw.fmt.DASH],
        ["room.gpm", lw.fmt("money", lang, r.gpm)]]).forEach(function (c) { tr.appendChild(cellOf(D, c[1], c[0])); });
    }

    function compare(base) {
      if (!base) { cmp.setAttribute("data-state", "none"); return; }
      var rows = base.compare || [];
      if (!base.sessions || !base.sessions.length) {
        cmp.setAttribute("data-state", "empty");
        D.setText(f.compare_note, lw.t(lang, "m_compare_none"));
        cmpBody.replaceChildren();
        return;
      }
      cmp.setAttribute("data-state", "ready");
      D.setText(f.compare_note, lw.t(lang, "m_compare_note", {n: base.sessions.length,
                                                              minutes: rows.length ? rows[0].minutes : 0}));
      cmpBody.replaceChildren.apply(cmpBody, rows.map(function (c) {
        var tr = D.el("tr"), fmtV = function (v) {
          return c.metric === "gmv" ? exact(lang, v) : c.metric === "online" ? (+v).toFixed(1) : lw.fmt("int", lang, Math.round(v));
        };
        tr.setAttribute("data-metric-compare", c.metric);
        tr.appendChild(D.el("td", "lw-m-col-name", lw.t(lang, "m_cmp_" + c.metric)));
        tr.appendChild(D.el("td", "", fmtV(c.actual)));
        tr.appendChild(D.el("td", "", fmtV(c.baseline)));
        var ch = D.el("td", "lw-m-change", c.change === null ? lw.fmt.DASH :
          (c.change > 0 ? "+" : "") + (c.change * 100).toFixed(1) + "%");
        ch.classList.toggle("is-negative", typeof c.change === "number" && c.change < 0);
        ch.classList.toggle("is-positive", typeof c.change === "number" && c.change > 0);
        tr.appendChild(ch);
        return tr;
      }));
    }

    function drawTimeline() {
      panel.classList.toggle("has-ghost", !!(ghost && ghost.length));
      lw.ManagerTimeline(chart, timeline, lang, ghost);
    }

    function exports(session) {
      panel.querySelectorAll(".lw-m-export").forEach(function (a) {
        a.href = "/api/sessions/" + encodeURIComponent(session) + "/export?format=" + a.getAttribute("data-format");
      });
    }

    function render(rv) {
      var t = rv.totals || {};
      D.setText(f.review_session, rv.session);
      D.viewer(f.review_title);
      D.setText(f.review_title, rv.title || t.title || "");
      D.setText(f.review_span, t.started ? lw.t(lang, "m_span", {from: when(t.started),
        to: t.ended ? when(t.ended) : lw.t(lang, "m_running")}) : "");
      profit(rv.profit || {});
      lateBlock(rv.late);
      segments(rv);
      page(rv);
      exports(rv.session);
      panel.setAttribute("data-state", "ready");
      timeline = rv.timeline || [];
      drawTimeline();
    }

    function page(rv) {
      var rows = rv.products || [];
      total = typeof rv.total === "number" ? rv.total : rows.length;
      products(rows);
      pager();
      panel.setAttribute("data-page", String(Math.floor(query.offset / PAGE) + 1));
    }

    function reviewUrl(session) {
      var q = new URLSearchParams({limit: String(PAGE), offset: String(query.offset), sort: query.sort});
      if (query.q) q.set("q", query.q);
      return "/api/sessions/" + encodeURIComponent(session) + "/review?" + q.toString();
    }

    // another page, order or search of the same review: only the product table changes
    function reload() {
      if (!current) return;
      var mine = ++pageAsked, session = current;
      panel.setAttribute("data-products", "loading");
      getJson(reviewUrl(session)).then(function (rv) {
        if (mine !== pageAsked || session !== current) return;
        page(rv);
        panel.setAttribute("data-products", "ready");
      }).catch(function (e) {
        if (mine !== pageAsked) return;
        panel.setAttribute("data-products", "failed");
        D.setText(f.page_info, lw.t(lang, "m_load_failed", {why: e.message}));
      });
    }

    function open(session) {
      current = session || null;
      listEl.querySelectorAll("[data-session]").forEach(function (b) {
        b.setAttribute("aria-pressed", b.getAttribute("data-session") === current ? "true" : "false");
      });
      panel.setAttribute("data-session", current || "");
      if (!current) { panel.setAttribute("data-state", "none"); return; }
      var mine = ++asked;
      query = {q: "", sort: "-gmv", offset: 0};
      search.value = "";
      ghost = null;
      compare(null);
      panel.setAttribute("data-state", "loading");
      D.setText(f.review_status, lw.t(lang, "m_loading"));
      getJson(reviewUrl(current)).then(function (rv) {
        if (mine !== asked) return;
        render(rv);
        panel.setAttribute("data-products", "ready");
        // the review opens at the foot of a long page: bring it into sight
        panel.scrollIntoView({block: "start", behavior: "smooth"});
      }).catch(function (e) {
        if (mine !== asked) return;
        panel.setAttribute("data-state", "failed");
        D.setText(f.review_status, lw.t(lang, "m_load_failed", {why: e.message}));
      });
      // the comparison with the room's earlier sessions, and the ghost line on the chart, come beside it
      getJson("/api/sessions/" + encodeURIComponent(current) + "/baseline").then(function (base) {
        if (mine !== asked) return;
        compare(base);
        ghost = base.baseline || [];
        if (panel.getAttribute("data-state") === "ready") drawTimeline();
      }).catch(function () { if (mine === asked) compare(null); });
    }

    search.addEventListener("input", function () {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(function () {
        if (search.value === query.q) return;
        query.q = search.value;
        query.offset = 0;
        reload();
      }, SEARCH_WAIT_MS);
    });
    prev.addEventListener("click", function () { query.offset = Math.max(0, query.offset - PAGE); reload(); });
    next.addEventListener("click", function () { query.offset += PAGE; reload(); });
    sortButtons.forEach(function (b) {
      b.addEventListener("click", function () {
        var key = b.getAttribute("data-sort"), now = query.sort.replace(/^-/, "");
        // a new column sorts high to low first (names A to Z); the same column again turns the order round
        query.sort = now === key ? (query.sort.charAt(0) === "-" ? key : "-" + key) : (key === "name" ? key : "-" + key);
        query.offset = 0;
        reload();
      });
    });
    panel.querySelector(".lw-m-print").addEventListener("click", function () { window.print(); });

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
