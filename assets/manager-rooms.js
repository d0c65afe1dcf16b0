/* The manager's overview: one row per room, every room side by side, in name order so each room keeps its
 * place. Rows are clones of the page's hidden template (components/manager_layout.py), added as rooms are heard
 * of; each is a link to the room's drill-down (a plain click opens it in the page, a middle click in a tab).
 */
(function () {
  "use strict";
  var lw = window.livewall;

  function ended(m) { return m.ended !== null && m.ended !== undefined; }

  // ctx: lang, now() (server time), href(room) -> the room's URL, open(room)
  lw.ManagerRooms = function (root, ctx) {
    var D = lw.dom, lang = ctx.lang;
    var template = root.querySelector('[data-template="room"]');
    var body = root.querySelector(".lw-m-rows");
    var empty = root.querySelector(".lw-m-rows-empty");
    var rows = new Map(), order = [], counts = {};

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
      r = {el: el, metrics: D.bind(el), f: D.fields(el), frame: null};
      D.setText(r.f.room, room);
      D.setText(r.f.fresh, lw.t(lang, "waiting"));
      rows.set(room, r);
      order.push(room);
      order.sort();
      var next = rows.get(order[order.indexOf(room) + 1]);
      body.insertBefore(el, next ? next.el : null);
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
