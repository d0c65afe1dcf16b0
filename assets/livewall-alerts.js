/* Alerts on a screen: a toast per firing alert, the alert ticker (where the screen has one), and the alert
 * count of each room. Every screen uses it; each shows the alerts whose `audience` names it (rules.yaml:
 * wall, assistant, manager), so the tablet shows only what the streamer's assistant can act on.
 *
 * A toast is role="alert" with data-alert=<rule> and data-alert-id=<id>. Critical toasts stay until the
 * alert is acknowledged or resolved (from any screen: the change arrives by push); the others fade after
 * TOAST_S. An alert pops up once, however often it repeats; at most MAX_TOASTS show, critical ones beyond
 * that wait their turn, counted under the stack. The acknowledge button posts once, on a person's click; it
 * is the page's only HTTP call.
 */
(function () {
  "use strict";
  var lw = window.livewall;
  var D = lw.dom;
  var TOAST_S = 15, SETTLE_MS = 1500, MAX_TOASTS = 4, TICKER_ITEMS = 12, KEEP = 200;
  var TICKER_REM_PER_S = 4;       // scrolling speed of an overfull ticker: slow enough to read at 5 m
  var FRESH_ON_CONNECT_S = 60;   // on (re)connect, only recent non-critical alerts pop up again
  var RANK = {critical: 3, warning: 2, info: 1};

  function beep() {
    // Browsers may block audio until someone has touched the page; a silent wall is acceptable then.
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext, ac = lw._audio || (lw._audio = new Ctx());
      if (ac.state === "suspended") ac.resume();
      [0, 0.28].forEach(function (at) {
        var o = ac.createOscillator(), g = ac.createGain(), t = ac.currentTime + at;
        o.frequency.value = 880;
        g.gain.setValueAtTime(0.0001, t);
        g.gain.exponentialRampToValueAtTime(0.3, t + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, t + 0.22);
        o.connect(g); g.connect(ac.destination);
        o.start(t); o.stop(t + 0.24);
      });
    } catch (e) { /* no audio on this machine */ }
  }

  function figureText(lang, v) {
    if (typeof v !== "number") return lw.pick(lang, v);
    return Math.abs(v) < 1 && v !== 0 ? lw.fmt("ratio", lang, v) : lw.fmt("int", lang, Math.round(v * 100) / 100);
  }

  function hhmm(ts) {
    var d = new Date(ts * 1000), two = function (n) { return (n < 10 ? "0" : "") + n; };
    return two(d.getHours()) + ":" + two(d.getMinutes());
  }

  // ctx: lang, rooms (null: all), audience ("wall", "assistant" or "manager"), user (who has the screen open),
  //      sound (false: never beep), now(), onRoomAlerts(room, count, worst), onChange(), onList(alerts: newest first, firing first)
  lw.Alerts = function (root, ctx) {
    var lang = ctx.lang;
    var box = root.querySelector(".lw-toasts");
    var ticker = root.querySelector(".lw-ticker-alerts");
    var track = ticker ? ticker.querySelector(".lw-ticker-track") : null;
    var alerts = new Map();   // id -> latest alert
    var toasts = new Map();   // id -> {el, timer}
    var shown = new Set();    // ids that have had their toast: an alert's later updates do not pop it up again
    var waiting = [];         // critical alerts with no room in the stack yet, oldest first
    var more = null;          // the line under the stack that counts them

    // an alert without an audience (older records, system alerts) is for everyone
    function watched(a) {
      return (!ctx.rooms || ctx.rooms.indexOf(a.room) >= 0) &&
        (!ctx.audience || !a.audience || !a.audience.length || a.audience.indexOf(ctx.audience) >= 0);
    }

    function title(a) { return lw.pick(lang, a.title) || a.rule; }

    function ack(a, button) {
      button.disabled = true;
      fetch("/api/alerts/" + encodeURIComponent(a.id) + "/ack", {
        method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"
      }).then(function (r) {
        if (!r.ok) throw new Error(r.status);
      }).catch(function () {
        button.disabled = false;
        D.setText(button, lw.t(lang, "ack_failed"));
      });
    }

    function build(a) {
      var el = D.el("div", "lw-toast");
      el.setAttribute("role", "alert");
      el.setAttribute("data-alert", a.rule);
      el.setAttribute("data-alert-id", a.id);
      el.setAttribute("data-severity", a.severity);
      var head = D.el("div", "lw-toast-head");
      head.appendChild(D.el("span", "lw-toast-sev", lw.t(lang, a.severity)));
      head.appendChild(D.el("span", "lw-toast-room", a.room || ""));
      head.appendChild(D.el("span", "lw-toast-time", hhmm(a.started || ctx.now())));
      el.appendChild(head);
      // title, message and figures scroll inside a box of capped height; the head and the button stay on screen
      var body = D.el("div", "lw-toast-body");
      body.appendChild(D.el("div", "lw-toast-title", title(a)));
      // the message says it in words; the raw figures stand in only when there is none
      var msg = lw.pick(lang, a.message);
      var figs = a.figures || {}, keys = msg ? [] : Object.keys(figs).slice(0, 4);
      if (msg) body.appendChild(D.el("div", "lw-toast-msg", msg));
      if (keys.length) {
        var list = D.el("div", "lw-toast-figures");
        keys.forEach(function (k) {
          var fig = D.el("span", "lw-toast-figure");
          fig.appendChild(D.el("span", "lw-toast-figure-key", k));
          fig.appendChild(D.viewer(D.el("b", "lw-toast-figure-value", figureText(lang, figs[k]))));
          list.appendChild(fig);
        });
        body.appendChild(list);
      }
      el.appendChild(body);
      var foot = D.el("div", "lw-toast-foot");
      if (msg) foot.appendChild(expander(el, body.querySelector(".lw-toast-msg")));
      if (lw.may(ctx.user, "assistant", a.room)) {   // assistants of the room, and managers
        var button = D.el("button", "lw-toast-ack", lw.t(lang, "ack"));
        button.type = "button";
        button.setAttribute("data-ack", a.id);
        button.addEventListener("click", function () { ack(a, button); });
        foot.appendChild(button);
      }
      el.appendChild(foot);
      return el;
    }

    // "full text": the message clamps to a few lines and shortens a long quoted name; this shows it whole,
    // scrolling inside the toast. Hidden when there is nothing more to show (checked once the toast is laid out).
    function expander(toastEl, msgEl) {
      var b = D.el("button", "lw-toast-expand", lw.t(lang, "full_text"));
      b.type = "button";
      b.hidden = true;
      b.addEventListener("click", function () {
        var open = !toastEl.classList.contains("is-open");
        toastEl.classList.toggle("is-open", open);
        D.setFull(msgEl, open);
        D.setText(b, lw.t(lang, open ? "less_text" : "full_text"));
      });
      requestAnimationFrame(function () {
        b.hidden = !(msgEl.__lwCut || msgEl.scrollHeight > msgEl.clientHeight + 1);
      });
      return b;
    }

    function drop(id) {
      var t = toasts.get(id);
      if (!t) return;
      clearTimeout(t.timer);
      toasts.delete(id);
      t.el.removeAttribute("role");   // on its way out it is no longer an alert to announce
      t.el.classList.add("is-leaving");
      setTimeout(function () { t.el.remove(); }, 600);
    }

    function criticalShown() {
      var n = 0;
      toasts.forEach(function (t) { n += t.severity === "critical"; });
      return n;
    }

    // a toast that has had its time (faded, acknowledged, resolved) gives its place to a waiting critical one
    function release(id) {
      drop(id);
      if (waiting.length && criticalShown() < MAX_TOASTS) {
        var next = waiting.shift();
        showWaiting();
        toast(next);
      }
    }

    // critical alerts beyond a full stack of them wait their turn, counted in one line under the stack: a storm
    // of them must not bury the screen, and none may go unseen
    function showWaiting() {
      if (!waiting.length) {
        if (more) { more.remove(); more = null; }
        return;
      }
      if (!more) {
        more = D.el("div", "lw-toast-more");
        more.setAttribute("data-waiting", "");
        box.appendChild(more);
      }
      D.setText(more, lw.t(lang, "more_critical", {n: waiting.length}));
    }

    function toast(a) {
      if (shown.has(a.id) || waiting.some(function (w) { return w.id === a.id; })) return;
      if (a.severity === "critical" && criticalShown() >= MAX_TOASTS) {
        waiting.push(a);
        showWaiting();
        return;
      }
      // the oldest warnings make room (critical toasts stay until acknowledged); behind a full stack of critical
      // ones a warning shows anyway, and fades as usual
      while (toasts.size >= MAX_TOASTS) {
        var victim = Array.from(toasts.keys()).find(function (id) { return toasts.get(id).severity !== "critical"; });
        if (victim === undefined) break;
        drop(victim);
      }
      shown.add(a.id);
      var el = build(a), t = {el: el, timer: null, severity: a.severity};
      if (a.severity !== "critical") t.timer = setTimeout(function () { release(a.id); }, TOAST_S * 1000);
      toasts.set(a.id, t);
      box.insertBefore(el, box.firstChild);
      if (a.severity === "critical" && ctx.sound !== false) beep();
    }

    // an acknowledged or resolved alert: the toast says so briefly, then goes
    function settle(a) {
      var queued = waiting.length;
      waiting = waiting.filter(function (w) { return w.id !== a.id; });
      if (waiting.length !== queued) showWaiting();
      var t = toasts.get(a.id);
      if (!t) return;
      clearTimeout(t.timer);
      t.el.setAttribute("data-state", a.state);
      t.el.removeAttribute("role");
      var foot = t.el.querySelector(".lw-toast-foot");
      foot.replaceChildren(D.el("span", "lw-toast-settled", a.state === "resolved" ? lw.t(lang, "resolved") :
        a.acknowledged_by ? lw.t(lang, "acknowledged_by", {by: a.acknowledged_by}) : lw.t(lang, "acknowledged")));
      t.timer = setTimeout(function () { release(a.id); }, SETTLE_MS);
    }

    // when the items do not fit, the track runs as a loop: a second copy follows the first
    function scroll(track) {
      track.style.animation = "none";
      var window_ = track.parentElement;
      if (!track.children.length || track.scrollWidth <= window_.clientWidth) return;
      var copy = Array.prototype.map.call(track.children, function (n) {
        var c = n.cloneNode(true);
        c.setAttribute("aria-hidden", "true");
        return c;
      });
      copy.forEach(function (c) { track.appendChild(c); });
      var px = track.scrollWidth / 2, rem = parseFloat(getComputedStyle(document.documentElement).fontSize);
      track.style.animation = "lw-ticker " + (px / (TICKER_REM_PER_S * rem)) + "s linear infinite";
    }

    function sorted() {
      return Array.from(alerts.values()).sort(function (x, y) {
        var fx = x.state === "firing" ? 1 : 0, fy = y.state === "firing" ? 1 : 0;
        return fy - fx || (y.started || 0) - (x.started || 0);
      });
    }

    function renderTicker() {
      var all = sorted(), list = all.slice(0, TICKER_ITEMS);
      if (ctx.onList) ctx.onList(all);
      if (!ticker) { perRoom(); return; }
      var items = list.map(function (a) {
        var item = D.el("span", "lw-tick-item");
        item.setAttribute("data-severity", a.severity);
        item.setAttribute("data-state", a.state);
        item.appendChild(D.el("span", "lw-tick-time", hhmm(a.started || 0)));
        item.appendChild(D.el("span", "lw-tick-room", a.room || ""));
        item.appendChild(D.el("span", "lw-tick-title", title(a)));
        if (a.state !== "firing") item.appendChild(D.el("span", "lw-tick-state", lw.t(lang, a.state)));
        return item;
      });
      track.replaceChildren.apply(track, items);
      scroll(track);
      ticker.classList.toggle("is-empty", !items.length);
      ticker.classList.toggle("has-firing", list.some(function (a) { return a.state === "firing"; }));
      perRoom();
    }

    function perRoom() {
      if (!ctx.onRoomAlerts && !ctx.onChange) return;
      // per room: firing count and worst severity, for the matrix tiles
      var per = {};
      alerts.forEach(function (a) {
        var p = per[a.room] || (per[a.room] = {n: 0, worst: "info"});
        if (a.state !== "firing") return;
        p.n++;
        if (RANK[a.severity] > RANK[p.worst]) p.worst = a.severity;
      });
      if (ctx.onRoomAlerts) Object.keys(per).forEach(function (room) { ctx.onRoomAlerts(room, per[room].n, per[room].worst); });
      if (ctx.onChange) ctx.onChange();
    }

    // a wall runs for days: keep the newest KEEP alerts, firing ones always
    function forgetOldest() {
      for (var [id, a] of alerts) {
        if (a.state !== "firing") { alerts.delete(id); shown.delete(id); return; }
      }
    }

    function take(a, fromGreeting) {
      if (!a || !a.id || !watched(a)) return;
      alerts.delete(a.id);
      alerts.set(a.id, a);
      if (alerts.size > KEEP) forgetOldest();
      if (a.state === "firing") {
        var recent = ctx.now() - (a.started || 0) < FRESH_ON_CONNECT_S;
        if (!fromGreeting || a.severity === "critical" || recent) toast(a);
      } else settle(a);
    }

    return {
      greeting: function (list) { (list || []).slice().reverse().forEach(function (a) { take(a, true); }); renderTicker(); },
      change: function (a) { take(a, false); renderTicker(); },
      // acknowledge from a list outside the toasts (the manager's alert table); `button` is disabled meanwhile
      ack: ack,
      // alert start times of one room, for the trend chart's markers
      markers: function (room) {
        var out = [];
        alerts.forEach(function (a) {
          if (a.room === room && a.started) out.push({ts: a.started, kind: "alert", label: title(a)});
        });
        return out;
      }
    };
  };
})();
