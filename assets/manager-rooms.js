/* The manager's overview: one row per room, every room side by side, in name order so each room keeps its
 * place, or sorted by any column (click its header, again to reverse; the order holds while frames arrive), and
 * grouped by platform with subtotals on demand. Rows are clones of the page's hidden template
 * (components/manager_layout.py), added as rooms are heard of; each is a link to the room's drill-down (a plain
 * click opens it in the page, a middle click in a tab).
 */
(function () {
  "use strict";
  var lw = window.livewall;

  function ended(m) { return m.ended !== null && m.ended !== undefined; }

  // a column's value for sorting (null: no figure, always last); the first click sorts names and states
  // A to Z, figures biggest first
  var SORT = {
    room: function (r) { return r.room; },
    state: function (r) { return r.frame ? (ended(r.frame.metrics) ? 2 : r.el.classList.contains("is-stale") ? 1 : 0) : 3; },
    gmv: "gmv", online: "online", viewers: "viewers", orders: "orders", cvr: "cvr", roi: "roi", spend: "ad_spend",
    bounce: "bounce_2s_rate",
    alerts: function (r, counts) { return (counts[r.room] || {n: 0}).n; }
  };
  var FIRST_ASC = {room: true, state: true};

  function sortValue(key, r, counts) {
    var how = SORT[key];
    if (typeof how === "function") return how(r, counts);
    var v = r.frame ? r.frame.metrics[how] : null;
    return typeof v === "number" && v === v ? v : null;
  }

  function compare(a, b, dir) {
    if (a === b) return 0;
    if (a === null) return 1;
    if (b === null) return -1;
    return (a < b ? -1 : 1) * dir;
  }

  // ctx: lang, now() (server time), href(room) -> the room's URL, open(room)
  lw.ManagerRooms = function (root, ctx) {
    var D = lw.dom, lang = ctx.lang;
    var template = root.querySelector('[data-template="room"]');
    var body = root.querySelector(".lw-m-rows");
    var empty = root.querySelector(".lw-m-rows-empty");
    var rows = new Map(), order = [], counts = {};
    var groupTemplate = root.querySelector('[data-template="group"]');
    var heads = root.querySelectorAll(".lw-m-sort");
    var groupToggle = root.querySelector(".lw-m-group-toggle");
    var sort = {key: null, dir: 1}, grouped = false, groups = new Map();

    heads.forEach(function (button) {
      button.addEventListener("click", function () {
        var key = button.getAttribute("data-sort");
        sort = sort.key === key ? {key: key, dir: -sort.dir} : {key: key, dir: FIRST_ASC[key] ? 1 : -1};
        heads.forEach(function (b) {
          var mine = b === button;
          b.parentNode.setAttribute("aria-sort", mine ? (sort.dir > 0 ? "ascending" : "descending") : "none");
        });
        arrange();
      });
    });
    groupToggle.addEventListener("click", function () {
      grouped = !grouped;
      groupToggle.setAttribute("aria-pressed", String(grouped));
      root.classList.toggle("is-grouped", grouped);
      arrange();
    });

    function platformOf(r) { return (r.frame && r.frame.platform) || "other"; }

    function group(platform) {
      var g = groups.get(platform);
      if (g) return g;
      var el = groupTemplate.cloneNode(true);
      el.removeAttribute("data-template");
      el.setAttribute("data-group", platform);
      g = {el: el, f: D.fields(el)};
      D.setPlatform(g.f.platform, lang, platform);
      groups.set(platform, g);
      return g;
    }

    // a platform's subtotals: rooms, GMV, online, orders / paid, ad spend
    function subtotal(g, members) {
      var sum = {gmv: 0, online: 0, orders: 0, paid_orders: 0, ad_spend: 0};
      members.forEach(function (r) {
        if (!r.frame) return;
        for (var k in sum) sum[k] += r.frame.metrics[k] || 0;
      });
      D.setText(g.f.group_rooms, lw.t(lang, "m_group_rooms", {n: members.length}));
      D.setText(g.f.group_gmv, lw.fmt("money", lang, sum.gmv));
      D.setText(g.f.group_online, lw.fmt("int", lang, sum.online));
      D.setText(g.f.group_orders, lw.fmt("int", lang, sum.orders) + " / " + lw.fmt("int", lang, sum.paid_orders));
      D.setText(g.f.group_spend, lw.fmt("money", lang, sum.ad_spend));
    }

    // put the rows (and, grouped, the platforms' header rows) in the order asked; moves only what is out of place
    function arrange() {
      var list = order.map(function (room) { return rows.get(room); });
      if (sort.key) {
        list = list.map(function (r, i) { return {r: r, i: i, v: sortValue(sort.key, r, counts)}; })
          .sort(function (a, b) { return compare(a.v, b.v, sort.dir) || a.i - b.i; })
          .map(function (x) { return x.r; });
      }
      var wanted = [];
      if (grouped) {
        var by = new Map();
        list.forEach(function (r) {
          var p = platformOf(r);
          if (!by.has(p)) by.set(p, []);
          by.get(p).push(r);
        });
        Array.from(by.keys()).sort().forEach(function (p) {
          var g = group(p);
          subtotal(g, by.get(p));
          wanted.push(g.el);
          by.get(p).forEach(function (r) { wanted.push(r.el); });
        });
      } else wanted = list.map(function (r) { return r.el; });
      groups.forEach(function (g) { if (wanted.indexOf(g.el) < 0 && g.el.parentNode) g.el.remove(); });
      var at = empty.nextSibling;
      wanted.forEach(function (el) {
        if (el !== at) body.insertBefore(el, at);
        else at = at.nextSibling;
      });
    }

    function plainClick(e) {
      return e.button === 0 && !e.metaKey && !e.ctrlKey && !e.shiftKey && !e.altKey;
    }

    function showAlerts(r, room) {
      var c = counts[room] || {n: 0, worst: "info"};
      D.setText(r.f.alerts, c.n ? "⚠ " + c.n : "0");
      D.setAttr(r.el, "data-alerts", c.n);
      D.setAttr(r.el, "data-alert-level", c.n ? c.worst : "none");
    }

    function row(room) {
      var r = rows.get(room);
      if (r) return r;
      var el = template.cloneNode(true);
      el.removeAttribute("data-template");
      el.setAttribute("data-room", room);
      el.setAttribute("data-state", "waiting");
      el.href = ctx.href(room);
      el.addEventListener("click", function (e) {
        if (!plainClick(e)) return;
        e.preventDefault();
        ctx.open(room);
      });
      r = {room: room, el: el, metrics: D.bind(el), f: D.fields(el), frame: null};
      D.setText(r.f.room, room);
      D.setText(r.f.fresh, lw.t(lang, "waiting"));
      rows.set(room, r);
      order.push(room);
      order.sort();
      body.appendChild(el);
      empty.hidden = true;
      showAlerts(r, room);
      return r;
    }

    // the row's "live / N s old / ended" pill; returns the age of a live room's data (null for an ended one)
    function freshness(r, now) {
      var m = r.frame.metrics, age = Math.max(0, now - r.frame.updated), done = ended(m), stale = !done && age > lw.constants.stale_s;
      r.el.classList.toggle("is-stale", stale);
      D.setText(r.f.fresh, done ? lw.t(lang, "ended") :
        stale ? lw.t(lang, "stale_short", {age: lw.age(lang, age)}) : lw.t(lang, "live"));
      return done ? null : age;
    }

    return {
      arrange: arrange,
      render: function (fr) {
        var r = row(fr.room), m = fr.metrics;
        r.frame = fr;
        D.apply(r.metrics, m, lang);
        D.setPlatform(r.f.platform, lang, fr.platform);
        D.setText(r.f.title, m.title || "");
        D.setAttr(r.el, "data-state", ended(m) ? "ended" : "live");
        freshness(r, ctx.now());
      },
      // firing alerts of a room and the worst severity among them
      alerts: function (room, n, worst) {
        counts[room] = {n: n, worst: worst};
        var r = rows.get(room);
        if (r) showAlerts(r, room);
        if (sort.key === "alerts") arrange();
      },
      // once a second: each row's data age; returns the age when every live room is stale (else null)
      tick: function (now) {
        var freshest = null;
        rows.forEach(function (r) {
          var age = r.frame ? freshness(r, now) : null;
          if (age !== null) freshest = freshest === null ? age : Math.min(freshest, age);
        });
        return freshest !== null && freshest > lw.constants.stale_s ? freshest : null;
      }
    };
  };
})();
