/* /manager in the browser, in the screens' shell (livewall-screen.js): what arrives goes to the parts of the
 * page (manager-*.js):
 *
 *   ManagerRooms        a row per room, every room side by side
 *   ManagerDetail       one room opened (?room=): KPIs, funnel, sources, products
 *   ManagerReview       that room's sessions and, on a click, a session's review
 *   ManagerSuggestions  ad-spend suggestions of every room, with Approve / Reject
 *   ManagerAlertList    every alert, whatever its audience, with Acknowledge
 *   ManagerLinks        share links and device links (managers and admins)
 *   ManagerConnectors   the platform connectors' state (managers and admins)
 *
 * Frames are kept per room (the latest only) and applied at the next animation frame (the shell's batch).
 * Opening a room changes the URL with pushState, so the link can be shared and the back button returns to the
 * overview; the page is never reloaded. The shell's one-second tick refreshes clocks and data age; nothing here polls the server.
 */
(function () {
  "use strict";
  var lw = window.livewall;

  function valid(room) { return room && new RegExp(lw.constants.room_re).test(room) ? room : null; }

  lw.screen({start: "startManager", id: "manager", ready: ".lw-m-main", page: "lw-manager-page", header: ".lw-m-header",
              room: function (config) { return config.room; }, init: function (s) {
    var config = s.config, root = s.root, lang = s.lang, D = lw.dom;
    var frames = {}, seen = {};
    var view = {room: null, session: null};
    var pagePath = location.pathname;
    var header = root.querySelector(".lw-m-header"), hf = D.fields(header);
    var totals = {};
    header.querySelectorAll("[data-total]").forEach(function (el) { totals[el.getAttribute("data-total")] = el; });
    lw.signOut(header.querySelector("[data-sign-out]"), lang);

    var now = s.now;
    // the page's URL for a view, keeping the other parameters (lang)
    function urlFor(room, session) {
      var q = new URLSearchParams(location.search);
      if (room) q.set("room", room); else q.delete("room");
      if (room && session) q.set("session", session); else q.delete("session");
      var s = q.toString();
      return pagePath + (s ? "?" + s : "");
    }

    var rooms = lw.ManagerRooms(root.querySelector(".lw-m-overview"), {
      lang: lang, now: now, href: function (room) { return urlFor(room, null); }, open: openRoom
    });
    var detail = lw.ManagerDetail(root.querySelector(".lw-m-detail"), {lang: lang, now: now, back: backToOverview});
    lw.ManagerDates(root.querySelector(".lw-m-dates"), {lang: lang, href: function (room, session) {
      var q = new URLSearchParams(location.search);
      q.set("room", room);
      q.set("session", session);
      return pagePath + "?" + q.toString();
    }});
    var review = lw.ManagerReview(root.querySelector(".lw-m-sessions"), {
      lang: lang, now: now,
      pick: function (session) {
        view.session = session;
        history.replaceState(history.state, "", urlFor(view.room, session));
      }
    });
    var suggestions = lw.ManagerSuggestions(root.querySelector(".lw-m-suggestions"), {
      lang: lang, user: config.user,
      onCount: function (n) { D.setText(totals.proposed, String(n)); root.classList.toggle("has-proposed", n > 0); }
    });
    var alertList = lw.ManagerAlertList(root.querySelector(".lw-m-alerts"), {
      lang: lang, user: config.user, ack: function (a, button) { alerts.ack(a, button); },
      onCount: function (n) { D.setText(totals.firing, String(n)); root.classList.toggle("has-firing", n > 0); }
    });
    // managers see every alert, whatever its audience: no audience filter
    var alerts = lw.Alerts(root, {
      lang: lang, rooms: null, audience: null, user: config.user, sound: false, now: now,
      onRoomAlerts: rooms.alerts, onList: alertList.render
    });

    // the link manager, for those who may share (the server checks every request again)
    if (lw.may(config.user, "manager")) {
      lw.ManagerLinks(root.querySelector(".lw-m-links"), {
        lang: lang, opener: header.querySelector(".lw-m-share-open"),
        view: function () { return {room: view.room, session: view.session}; }
      });
      lw.ManagerConnectors(root.querySelector(".lw-m-connectors"), lang);
    }

    // -- views: the overview, or one room opened ------------------------------------------------------
    function show(room, session) {
      var changed = room !== view.room;
      view.room = room;
      view.session = room ? session : null;
      root.setAttribute("data-view", room ? "room" : "overview");
      suggestions.filter(room);
      alertList.filter(room);
      if (changed || !room) {
        detail.show(room, room ? frames[room] || null : null);
        seen.detail = room && frames[room] ? sessionKey(frames[room]) : null;
        review.show(room, view.session);
        window.scrollTo(0, 0);
      } else review.open(view.session);
      s.refresh();
    }

    function openRoom(room) {
      history.pushState({lwManager: "room"}, "", urlFor(room, null));
      show(room, null);
    }

    function backToOverview() {
      // came from the overview: go back there, so the back button does not return to the room
      if (history.state && history.state.lwManager === "room") history.back();
      else {
        history.pushState({lwManager: "overview"}, "", urlFor(null, null));
        show(null, null);
      }
    }

    // back and forward within /manager (see the listener at the bottom); leaving /manager is the router's
    onPopState = function () {
      if (!root.isConnected || location.pathname !== pagePath) return false;
      var q = new URLSearchParams(location.search);
      show(valid(q.get("room")), q.get("session"));
      return true;
    };

    // -- frames ------------------------------------------------------------------------------------------
    function sessionKey(fr) { return fr.metrics.session + "|" + (fr.metrics.ended || ""); }

    var draw = s.batch(function (dirty) {
      dirty.forEach(function (room) {
        var fr = frames[room];
        rooms.render(fr);
        if (room === view.room) {
          detail.render(fr);
          // a session started or ended: the room's session list has changed
          var key = sessionKey(fr);
          if (seen.detail && seen.detail !== key) review.reload();
          seen.detail = key;
        }
      });
      rooms.arrange();   // the sort and the groups' subtotals follow the new figures
      headerTotals();
    });

    function headerTotals() {
      var sum = 0, n = 0, live = 0;
      Object.keys(frames).forEach(function (room) {
        var m = frames[room].metrics;
        sum += m.gmv || 0;
        n++;
        if (m.ended === null || m.ended === undefined) live++;
      });
      D.setText(totals.gmv, n ? lw.fmt("money-tile", lang, sum) : lw.fmt.DASH);
      D.setText(totals.rooms, String(n));
      D.setText(totals.live, String(live));
    }

    s.on("frame", function (msg) {
      frames[msg.room] = msg;
      draw(msg.room);
    });
    s.on("insight", function (msg) { suggestions.update(msg.room, msg.suggestions); });
    s.on("alerts", function (msg) { alerts.greeting(msg.alerts); });
    s.on("alert", function (msg) { alerts.change(msg.alert); });

    show(valid(config.room), config.session);
    history.replaceState({lwManager: view.room ? "shared" : "overview"}, "", location.href);

    // -- the one-second tick: clock, connection, data age -------------------------------------------------
    function tick(t, state) {
      D.setText(hf.clock, lw.timeOfDay(lang, t));
      D.setText(hf.conn, state === "open" ? lw.t(lang, "m_connected") : lw.t(lang, state));
      var roomsAge = rooms.tick(t), roomAge = detail.tick(t);
      return view.room ? s.staleText(roomAge) : s.staleText(roomsAge, "m_stale_all");
    }
    return {rooms: null, tick: tick};
  }});

  // Back and forward within /manager are the page's own: Dash's router would rebuild the whole page for a new
  // query string, so it must not see them. Listeners on window run in the order they were added, and Dash adds
  // its own when the page is first drawn, after this script has run: so this one is added now, on every page,
  // and does nothing until the manager page has started.
  var onPopState = null;
  window.addEventListener("popstate", function (e) {
    if (onPopState && onPopState(e)) e.stopImmediatePropagation();
  }, true);
})();
