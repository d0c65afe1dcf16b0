/* The screens' one websocket: /ws on the page's own origin, reconnecting with capped exponential backoff.
 *
 * A (re)connection is a resync by itself: the server greets every new socket with a hello and the complete
 * state of each watched room. While connected, {"kind":"resync"} from the server (it lost frames) is answered
 * with "resync". The hello's server time gives the clock offset, so data age is measured on the server's
 * clock, not a wall PC's drifting one. {"kind":"source","ok":false} says the server cannot reach its data
 * source (Redis): the state is then "unavailable" until {"kind":"source","ok":true} (followed by a resync).
 */
(function () {
  "use strict";
  var lw = window.livewall;
  var FIRST_DELAY_S = 0.5, MAX_DELAY_S = 10, KEEPALIVE_MS = 25000;  // keepalive: idle proxies drop sockets

  function delay(attempt) {
    var d = Math.min(MAX_DELAY_S, FIRST_DELAY_S * Math.pow(2, attempt));
    return (d / 2 + Math.random() * d / 2) * 1000;   // jitter: screens that lost one server come back spread out
  }

  // opts: rooms (array, or null for every room), onMessage(msg), onState(state, info)
  // state: "connecting" (first try), "open", "reconnecting" (after a loss; info.inMs = next try),
  // "unavailable" (connected, but the server's data source is away)
  lw.connect = function (opts) {
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws" +
      (opts.rooms && opts.rooms.length ? "?rooms=" + encodeURIComponent(opts.rooms.join(",")) : "");
    var ws = null, attempt = 0, keepalive = null, retry = null, stopped = false;
    var conn = {offset: 0, state: "connecting"};

    function setState(state, info) {
      conn.state = state;
      opts.onState(state, info || {});
    }

    function open() {
      retry = null;
      ws = new WebSocket(url);
      ws.onopen = function () {
        attempt = 0;
        setState("open");
        keepalive = setInterval(function () { ws.send("ping"); }, KEEPALIVE_MS);
      };
      ws.onmessage = function (e) {
        var msg = JSON.parse(e.data);
        if (msg.kind === "hello") conn.offset = msg.server_time - Date.now() / 1000;
        else if (msg.kind === "resync") ws.send("resync");
        else if (msg.kind === "source") return setState(msg.ok ? "open" : "unavailable");
        opts.onMessage(msg);
      };
      ws.onclose = function (e) {
        clearInterval(keepalive);
        if (stopped) return;
        // 1008: the server closed an open socket because its credentials stopped (a revoked link, a signed-out
        // user): reloading brings the page that says so. A refused handshake closes with 1006 and is retried.
        if (e.code === 1008) { stopped = true; location.reload(); return; }
        var ms = delay(attempt++);
        setState("reconnecting", {inMs: ms, attempt: attempt});
        retry = setTimeout(open, ms);
      };
    }

    conn.now = function () { return Date.now() / 1000 + conn.offset; };
    conn.resync = function () { if (ws && ws.readyState === 1) ws.send("resync"); };
    conn.close = function () {
      stopped = true;
      clearTimeout(retry);
      clearInterval(keepalive);
      if (ws) ws.close();
    };
    setState("connecting");
    open();
    return conn;
  };
})();
