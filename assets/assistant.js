/* /assistant/<room> in the browser, in the screens' shell (livewall-screen.js): the streamer assistant's tablet
 * for one room.
 *
 * One websocket for the one room; each frame is kept (the latest only) and drawn at the next animation frame,
 * so a burst costs one DOM pass. Re-run picks come with `insight` messages, alerts through lw.Alerts (only
 * those whose audience names the assistant). The shell's one-second tick moves the clock, the time on stage and
 * the data age; nothing here polls the server. Data text (product names, comments) is set as text only.
 */
(function () {
  "use strict";
  var lw = window.livewall;
  var D = lw.dom;
  var COMMENTS_SHOWN = 8;

  function liveProduct(fr) {
    var ps = fr.products || [];
    for (var i = 0; i < ps.length; i++) if (ps[i].on_stage) return ps[i];
    return null;
  }

  function stockLevel(stock) {
    if (stock === null || stock === undefined) return "unknown";
    if (stock < 0) return "over";
    if (stock === 0) return "out";
    return stock <= lw.constants.low_stock ? "low" : "ok";
  }

  // A one-line figure that shrinks when it outgrows its box (a price of ¥12,999.00 on a portrait tablet);
  // measured only when its length or its box's width changes, not on every frame.
  function Fit(el) {
    var chars = -1;
    function fit() {
      el.style.fontSize = "";
      if (el.scrollWidth > el.clientWidth) {
        el.style.fontSize = parseFloat(getComputedStyle(el).fontSize) * el.clientWidth / el.scrollWidth * 0.98 + "px";
      }
    }
    // The box's width settles after the first render (fonts, container units) and changes with the screen:
    // fit again whenever it does, not only when the text changes (the price once stayed cut off).
    var width = -1;
    new ResizeObserver(function () {
      var w = el.parentElement.clientWidth;
      if (w !== width) { width = w; fit(); }
    }).observe(el.parentElement);
    return function () {
      var n = el.textContent.length;
      if (n !== chars) { chars = n; fit(); }
    };
  }

  // Open alerts whose toast has gone (a warning's fades after 15 s): one compact row each, with its own button.
  // Rebuilt only when the set of rows changes, so a button pressed a moment ago is not replaced under a finger.
  function OpenList(panel, lang, user, alerts) {
    var toasts = panel.querySelector(".lw-toasts"), box = panel.querySelector(".lw-as-open-list");
    var shownKey = "";

    function toasted(a) {
      return !!toasts.querySelector('[data-alert-id="' + CSS.escape(a.id) + '"]:not(.is-leaving)');
    }

    function row(a) {
      var el = D.el("div", "lw-as-open");
      el.setAttribute("data-alert-id", a.id);
      el.setAttribute("data-alert-rule", a.rule);
      el.setAttribute("data-severity", a.severity);
      var text = D.el("div", "lw-as-open-text");
      text.appendChild(D.el("div", "lw-as-open-title", lw.pick(lang, a.title) || a.rule));
      text.appendChild(D.el("div", "lw-as-open-msg", lw.pick(lang, a.message)));
      el.appendChild(text);
      if (lw.may(user, "assistant", a.room)) {
        var button = D.el("button", "lw-as-open-ack", lw.t(lang, "ack"));
        button.type = "button";
        button.setAttribute("data-ack", a.id);
        button.addEventListener("click", function () { alerts().ack(a, button); });
        el.appendChild(button);
      }
      return el;
    }

    return function (list) {
      var rows = list.filter(function (a) { return a.state === "firing" && !toasted(a); });
      var key = rows.map(function (a) { return a.id; }).join(" ");
      if (key === shownKey) return;
      shownKey = key;
      box.replaceChildren.apply(box, rows.map(row));
    };
  }

  // Everything drawn from a frame or an insight; `tick` once a second for what moves between frames.
  function Screen(body, lang) {
    var f = D.fields(body);
    var stage = body.querySelector(".lw-as-stage");
    var stock = stage.querySelector(".lw-as-stock");
    var price = stage.querySelector('[data-metric="products.price"]');
    var stageTime = stage.querySelector('[data-metric="products.stage_seconds"]');
    var roomMetrics = D.bind(body, function (el) { return stage.contains(el); });
    var stageMetrics = D.bind(stage, function (el) { return el === price || el === stageTime; });
    var fits = Array.prototype.map.call(
      body.querySelectorAll(".lw-as-price, .lw-as-stock-value, .lw-as-fact-value, .lw-as-kpi-value"), Fit);
    var rerunBox = body.querySelector(".lw-as-rerun-rows");
    var rerunRows = Array.prototype.map.call(body.querySelectorAll(".lw-as-rerun-row"), function (row) {
      return {row: row, name: row.querySelector('[data-field="rerun_name"]'),
              reason: row.querySelector('[data-field="rerun_reason"]'),
              put: row.querySelector('[data-action="put-on-stage"]')};
    });
    var comments = D.comments(body.querySelector(".lw-as-comment-list"), "li", "lw-as-comment", COMMENTS_SHOWN);
    var frame = null, live = null;

    function renderStage() {
      stage.classList.toggle("is-empty", !live);
      D.setAttr(stage, "data-sku", live ? live.sku : "");
      if (!live) return;
      D.setText(f.onstage_name, live.name || live.sku);
      D.setText(price, lw.fmt("price", lang, live.price));
      D.apply(stageMetrics, {products: live}, lang);
      D.setAttr(stock, "data-level", stockLevel(live.stock));
    }

    function stageSeconds(now) {
      if (!live) return null;
      var ended = frame.metrics.ended !== null && frame.metrics.ended !== undefined;
      // between frames the product stays on stage: count on locally, but never far past the data
      return live.stage_seconds + (ended ? 0 : Math.min(Math.max(0, now - frame.updated), lw.constants.stale_s));
    }

    return {
      render: function (fr, now) {
        var m = fr.metrics;
        frame = fr;
        live = liveProduct(fr);
        D.apply(roomMetrics, m, lang);
        D.setPlatform(f.platform, lang, fr.platform);
        D.setText(f.title, m.title || "");
        D.setText(f.streamer, m.streamer || "");
        renderStage();
        fits.forEach(function (check) { check(); });
        D.setText(stageTime, lw.fmt("dur", lang, stageSeconds(now)));
        comments.draw(fr.comments || []);
        body.setAttribute("data-state", m.ended ? "ended" : "live");
      },
      insight: function (msg) {
        var picks = msg.recommendations || [];
        rerunBox.setAttribute("data-empty", picks.length ? "0" : "1");
        rerunRows.forEach(function (r, i) {
          var p = picks[i];
          r.row.classList.toggle("is-empty", !p);
          D.setAttr(r.row, "data-sku", p ? p.sku : "");
          D.setText(r.name, p ? (p.name || p.sku) : "");
          D.setText(r.reason, p ? lw.pick(lang, p.reason) : "");
          D.setAttr(r.put, "data-sku", p ? p.sku : "");
        });
      },
      // what the actions act on: the product on stage, as the screen shows it
      onStage: function () { return live ? {sku: live.sku, name: live.name || live.sku} : null; },
      alertCount: function (open, critical) {
        D.setText(f.alert_count, open ? lw.t(lang, "as_open", {n: open}) : "");
        body.classList.toggle("has-critical", critical);
      },
      // the session clock, the time on stage and the data age; returns the age (s) when it is stale, else null
      tick: function (now) {
        if (!frame) { D.setText(f.fresh, lw.t(lang, "waiting")); return null; }
        var m = frame.metrics, age = Math.max(0, now - frame.updated);
        var ended = m.ended !== null && m.ended !== undefined;
        D.setText(f.elapsed, lw.fmt.clock(ended ? m.ended - m.started : m.as_of - m.started + Math.min(age, lw.constants.stale_s)));
        D.setText(stageTime, lw.fmt("dur", lang, stageSeconds(now)));
        var stale = !ended && age > lw.constants.stale_s;
        body.classList.toggle("is-stale", stale);
        D.setText(f.fresh, ended ? lw.t(lang, "ended") : stale ? lw.t(lang, "stale", {age: lw.age(lang, age)}) : lw.t(lang, "live"));
        return stale ? age : null;
      }
    };
  }

  lw.screen({start: "startAssistant", id: "assistant", ready: ".lw-as-body", page: "lw-assistant-page",
              header: ".lw-as-header", room: function (config) { return config.room; },
              init: function (s) {
    var config = s.config, root = s.root, lang = s.lang;
    var body = root.querySelector(".lw-as-body");
    var screen = Screen(body, lang);
    var clock = D.fields(body).clock;
    // the controls show only to whom may act here (an assistant of the room, a manager); the server checks again
    var may = lw.may(config.user, "assistant", config.room);
    root.classList.toggle("may-act", may);
    if (may) lw.TabletActions(root, config.room, lang, screen.onStage);
    var frame = null;

    var latest = [];   // this room's alerts for the assistant, newest first, as lw.Alerts last listed them
    var openList = OpenList(root.querySelector(".lw-as-alerts"), lang, config.user, function () { return alerts; });
    var alerts = lw.Alerts(root, {
      lang: lang, rooms: [config.room], audience: "assistant", user: config.user, sound: config.sound, now: s.now,
      onList: function (list) {
        latest = list;
        var open = list.filter(function (a) { return a.state === "firing"; });
        screen.alertCount(open.length, open.some(function (a) { return a.severity === "critical"; }));
        openList(list);
      }
    });

    var draw = s.batch(function () { screen.render(frame, s.now()); });
    s.on("frame", function (msg) {
      if (msg.room !== config.room) return;
      frame = msg;
      draw(msg.room);
    });
    s.on("insight", function (msg) { if (msg.room === config.room) screen.insight(msg); });
    s.on("alerts", function (msg) { alerts.greeting(msg.alerts); });
    s.on("alert", function (msg) { alerts.change(msg.alert); });

    return {
      rooms: [config.room],
      tick: function (now) {
        D.setText(clock, lw.timeOfDay(lang, now));
        var age = screen.tick(now);
        openList(latest);   // toasts fade on their own timers: move a faded one into the list
        return s.staleText(age);
      }
    };
  }});
})();
