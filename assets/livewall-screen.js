/* The shell every screen (wall, assistant's tablet, manager) runs in. A screen's script calls
 *
 *   lw.screen({start: "startWall", id: "wall", ready: ".lw-stage", page: "lw-wall-page", init: function (s) {
 *     s.on("frame", function (msg) { ... });          // one handler per message kind; kinds without one are dropped
 *     var mark = s.batch(function (keys) { ... });     // mark(key) any number of times: flush(keys) once, next frame
 *     return {rooms: [...] or null, tick: function (now, state) { ...; return s.staleText(age); }};
 *   }});
 *
 * and the shell does the rest the same way on every screen: when Dash calls the start function (callbacks/) with
 * the page config, it waits for `ready` under #id, picks the language (?lang= or the browser's) and marks the
 * page with it, opens the one websocket for `rooms` and routes each message to its kind's handler, and ticks
 * once a second (and on every change of the socket's state): the screen's tick moves its clocks and returns the
 * stale-data text, and the banner shows the socket's state (connecting, reconnecting, source unavailable) or
 * else that text. `s` also gives config, root, lang, now() (on the server's clock), t(key, vars), staleText(age)
 * and refresh() (tick now). Before init, lw.constants is the page config's `constants` (pages.constants():
 * stale_s, low_stock, roles, room_re), the values every script shares with Python.
 *
 * Two things every screen has, done here: a language switch in the header (`header`: a selector under #id; the
 * choice goes into the URL as ?lang=, so it survives a reload and a rotation), and, when the screen is about
 * one room (`room(config)`: its name, else null) that the server's hello does not list, a page saying there is
 * no such room, with links to the rooms there are. It goes by itself when the room's first frame comes.
 */
(function () {
  "use strict";
  var lw = window.livewall;

  // Keys marked between two animation frames, handed to `flush` once at the next one: a burst of frames costs
  // one DOM pass.
  function batch(flush) {
    var dirty = new Set(), scheduled = false;
    function run() {
      var keys = dirty;
      scheduled = false;
      dirty = new Set();
      flush(keys);
    }
    return function mark(key) {
      dirty.add(key);
      if (!scheduled) { scheduled = true; requestAnimationFrame(run); }
    };
  }

  function start(spec, config, root) {
    lw.constants = config.constants;
    var lang = lw.resolveLang(config.lang);
    root.classList.remove("lang-auto", "lang-zh", "lang-en");
    root.classList.add("lang-" + lang);
    document.documentElement.classList.add(spec.page);
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";

    var handlers = {}, conn = null, screen = null;
    var banner = lw.dom.fields(root.querySelector(".lw-banner")).banner;
    var s = {
      config: config, root: root, lang: lang, batch: batch,
      now: function () { return conn ? conn.now() : Date.now() / 1000; },
      t: function (key, vars) { return lw.t(lang, key, vars); },
      on: function (kind, handle) { handlers[kind] = handle; },
      // tick now (the view changed); during init there is nothing to tick yet, and the socket's first state ticks
      refresh: function () { if (screen) tick(); },
      // what the banner says about data `age` seconds old (null: fresh), with the phrase `key` (else "stale")
      staleText: function (age, key) { return age ? lw.t(lang, key || "stale", {age: lw.age(lang, age)}) : ""; }
    };
    screen = spec.init(s);

    function tick() {
      var state = conn ? conn.state : "connecting";
      var stale = screen.tick(s.now(), state);
      var text = lw.connText(lang, state) || stale;
      lw.dom.setText(banner, text);
      root.classList.toggle("has-banner", !!text);
    }

    langSwitch(root, spec.header, lang);
    var asked = spec.room ? spec.room(config) : null, missing = null;

    conn = lw.connect({
      rooms: screen.rooms,
      onMessage: function (msg) {
        if (asked && msg.kind === "hello" && msg.rooms) missing = noSuchRoom(root, lang, asked, msg.rooms, missing);
        if (missing && msg.kind === "frame" && msg.room === asked) { missing.remove(); missing = null; }
        var handle = handlers[msg.kind];
        if (handle) handle(msg);
      },
      onState: function (state) { root.setAttribute("data-conn", state); tick(); }
    });
    setInterval(tick, 1000);
  }

  // this page's URL with one query parameter set (or, for `room` on /assistant/<room>, the path's room)
  function urlWith(key, value) {
    var url = new URL(window.location.href);
    if (key === "room" && /^\/assistant\//.test(url.pathname)) url.pathname = "/assistant/" + encodeURIComponent(value);
    else url.searchParams.set(key, value);
    return url.pathname + url.search;
  }

  function langSwitch(root, selector, lang) {
    var host = selector && root.querySelector(selector);
    if (!host) return;
    var box = lw.dom.el("nav", "lw-lang");
    box.setAttribute("aria-label", lw.t(lang, "language"));
    ["zh", "en"].forEach(function (code) {
      var a = lw.dom.el("a", "lw-lang-option", lw.t(lang, "lang_" + code));
      a.href = urlWith("lang", code);
      a.lang = code === "zh" ? "zh-CN" : "en";
      if (code === lang) a.setAttribute("aria-current", "true");
      box.appendChild(a);
    });
    host.appendChild(box);
  }

  // the room asked for is not among those there are (or this identity may read): say so, over the empty screen
  function noSuchRoom(root, lang, room, rooms, shown) {
    if (shown) shown.remove();
    if (rooms.indexOf(room) >= 0) return null;
    var box = lw.dom.el("div", "lw-unknown"), card = lw.dom.el("div", "lw-unknown-card");
    box.setAttribute("data-unknown-room", room);
    card.appendChild(lw.dom.el("h1", "lw-unknown-title", lw.t(lang, "unknown_room")));
    card.appendChild(lw.dom.el("p", "lw-unknown-text", lw.t(lang, "unknown_room_text", {room: room})));
    card.appendChild(lw.dom.el("p", "lw-unknown-list-label", lw.t(lang, rooms.length ? "unknown_room_list" : "unknown_room_none")));
    var list = lw.dom.el("ul", "lw-unknown-list");
    rooms.forEach(function (name) {
      var li = lw.dom.el("li"), a = lw.dom.el("a", "lw-unknown-link", name);
      a.href = urlWith("room", name);
      li.appendChild(a);
      list.appendChild(li);
    });
    card.appendChild(list);
    box.appendChild(card);
    root.appendChild(box);
    return box;
  }

  // spec: start (the clientside function the page's callback names), id (the page root's id), ready (a selector
  // under it: Dash renders a page's layout after its start callback may run), page (a class for <html>), init(s),
  // header (where the language switch goes), room(config) (the one room the screen is about, or null)
  lw.screen = function (spec) {
    var started = false;
    window.dash_clientside = window.dash_clientside || {};
    window.dash_clientside.livewall = window.dash_clientside.livewall || {};
    window.dash_clientside.livewall[spec.start] = function (config) {
      if (!started && config) {
        started = true;
        lw.dom.whenInDom("#" + spec.id + " " + spec.ready, function () {
          start(spec, config, document.getElementById(spec.id));
        });
      }
      return window.dash_clientside.no_update;
    };
  };
})();
