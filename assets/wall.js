/* /wall in the browser, in the screens' shell (livewall-screen.js): what each kind of message does to the wall.
 *
 *   room / rotate: one WallStage shows one room; a rotation switches `data-room` every N seconds
 *   matrix:        one WallMatrix tile per room
 *
 * Frames are kept per room (the latest only) and applied at the next animation frame (the shell's batch). The
 * shell's one-second tick refreshes clocks and data age; nothing here polls the server.
 */
(function () {
  "use strict";
  var lw = window.livewall;
  var MAX_MARKERS = 40;

  lw.screen({start: "startWall", id: "wall", ready: ".lw-stage", page: "lw-wall-page", header: ".lw-header",
              room: function (config) { return config.mode === "room" ? config.rooms[0] : null; },
              init: function (s) {
    var config = s.config, root = s.root, lang = s.lang;
    var frames = {};
    var stageChanges = {};       // room -> [{ts, kind: "product", label}] seen while this screen ran
    var onStage = {};            // room -> sku on stage in the latest frame
    var insights = {};
    var matrix = config.mode === "matrix";
    var view = matrix ? lw.WallMatrix(root, {lang: lang, rooms: config.rooms})
                      : lw.WallStage(root.querySelector(".lw-stage"), {lang: lang});
    var playlist = config.rooms ? config.rooms.slice() : [], current = -1;

    var alerts = lw.Alerts(root, {
      lang: lang, rooms: config.rooms, user: config.user, audience: "wall",
      now: s.now,
      onRoomAlerts: function (room, n, worst) { if (matrix) view.alerts(room, n, worst); },
      onChange: function () { if (!matrix && view.room()) mark(view.room()); }
    });

    function markers(room) {
      return (stageChanges[room] || []).concat(alerts.markers(room)).filter(function (m) {
        var f = frames[room];
        return !f || !f.series || !f.series.length || m.ts >= f.series[0].minute;
      }).slice(-MAX_MARKERS);
    }

    function mark(room) { if (frames[room]) draw(room); }

    // product changes are not in the frame's history: note each one this screen sees happen
    function noteStage(fr) {
      var live = null, ps = fr.products || [];
      for (var i = 0; i < ps.length && !live; i++) if (ps[i].on_stage) live = ps[i];
      var sku = live ? live.sku : null, before = onStage[fr.room];
      onStage[fr.room] = sku;
      if (before !== undefined && sku && sku !== before) {
        var list = stageChanges[fr.room] || (stageChanges[fr.room] = []);
        list.push({ts: fr.metrics.as_of, kind: "product", label: live.name || sku});
        if (list.length > MAX_MARKERS) list.shift();
      }
    }

    var draw = s.batch(function (rooms) {
      rooms.forEach(function (room) {
        var fr = frames[room];
        if (matrix) view.render(fr);
        else if (room === view.room()) view.render(fr, markers(room));
      });
    });

    // -- rotation -----------------------------------------------------------------------------------
    var rotation = root.querySelector(".lw-rotation");

    // the rooms the rotation takes: those live or ended within the grace (an ended room is seen ending, then
    // leaves; a new session brings it back); all of them when none is
    function turn() {
      var now = s.now(), live = playlist.filter(function (room) { return !lw.endedLongAgo(frames[room], now); });
      return live.length ? live : playlist.slice();
    }

    function showRoom(i) {
      current = i;
      var room = playlist[i];
      view.show(room, frames[room] || null, markers(room));
      if (insights[room]) view.insight(insights[room]);
      if (rotation) {
        var f = lw.dom.fields(rotation), rooms = turn(), at = rooms.indexOf(room);
        var next = rooms[(at + 1) % rooms.length];
        lw.dom.setText(f.rotation, at < 0 ? "" : (at + 1) + " / " + rooms.length);
        lw.dom.setText(f.next_room, rooms.length > 1 && next !== room ? next : "");
        var fill = rotation.querySelector(".lw-rot-fill");
        fill.style.animation = "none";
        void fill.offsetWidth;   // restart the CSS fill animation
        fill.style.animation = "lw-rot-fill " + config.rotate + "s linear forwards";
      }
    }

    function nextRoom() {
      // skip rooms that have sent nothing yet, and those ended long ago, unless no other room is left
      var rooms = turn();
      for (var k = 1; k <= playlist.length; k++) {
        var j = (current + k) % playlist.length;
        if ((frames[playlist[j]] && rooms.indexOf(playlist[j]) >= 0) || k === playlist.length) { showRoom(j); return; }
      }
    }

    function addToPlaylist(room) {
      if (config.rooms || playlist.indexOf(room) >= 0) return;
      playlist.push(room);
      playlist.sort();
      if (current >= 0) current = playlist.indexOf(view.room());
    }

    if (config.mode === "rotate") {
      setInterval(function () { if (playlist.length) nextRoom(); }, config.rotate * 1000);
    }
    if (!matrix && playlist.length) showRoom(0);

    // -- messages -----------------------------------------------------------------------------------
    function onFrame(fr) {
      var room = fr.room, first = !frames[room];
      frames[room] = fr;
      noteStage(fr);
      if (matrix) { draw(room); return; }
      addToPlaylist(room);
      if (current < 0 || (first && !frames[playlist[current]])) showRoom(playlist.indexOf(room));
      else if (room === view.room()) draw(room);
    }

    s.on("frame", onFrame);
    s.on("hello", function () { if (!matrix) view.redraw(); });
    s.on("insight", function (msg) {
      insights[msg.room] = msg;
      if (!matrix && msg.room === view.room()) view.insight(msg);
    });
    s.on("alerts", function (msg) { alerts.greeting(msg.alerts); });
    s.on("alert", function (msg) { alerts.change(msg.alert); });

    // -- the one-second tick: the clock and data age ---------------------------------------------------
    var clock = lw.dom.fields(root.querySelector(".lw-header")).clock;
    return {
      rooms: config.rooms,
      tick: function (now, state) {
        lw.dom.setText(clock, lw.timeOfDay(lang, now));
        return s.staleText(view.tick(now, state === "open"));
      }
    };
  }});
})();
