/* One room on the wall (pinned or the current room of a rotation): a frame in, text and bar widths out.
 *
 * Every element is found once when the stage is built; `render` is the hot path and only walks those
 * lists. Which room is shown is the stage's `data-room`, changed by `show`.
 */
(function () {
  "use strict";
  var lw = window.livewall;
  var D = lw.dom;
  var COUNT_UP_MS = 400;       // the hero GMV glides to each new value over about one frame interval
  var COMMENTS_SHOWN = 10;

  // The hero number: counts up smoothly to each new GMV; a drop (a new session) or a new room jumps.
  function Counter(el, lang) {
    var shown = null, from = 0, to = 0, t0 = 0, raf = 0, chars = 0;
    function paint(v) {
      var text = lw.fmt("money-hero", lang, v);
      D.setText(el, text);
      if (text.length !== chars) { chars = text.length; fit(el); }
    }
    function step(t) {
      var k = Math.min(1, (t - t0) / COUNT_UP_MS), e = 1 - Math.pow(1 - k, 3);
      shown = from + (to - from) * e;
      paint(k < 1 ? shown : to);
      raf = k < 1 ? requestAnimationFrame(step) : 0;
    }
    return {
      set: function (v, jump) {
        if (v === null || v === undefined) { cancelAnimationFrame(raf); raf = 0; shown = null; D.setText(el, lw.fmt.DASH); return; }
        if (v === to && shown !== null) return;
        if (jump || shown === null || v < shown) {
          cancelAnimationFrame(raf); raf = 0;
          shown = to = v;
          paint(v);
          return;
        }
        from = shown; to = v; t0 = performance.now();
        if (!raf) raf = requestAnimationFrame(step);
      }
    };
  }

  // shrink a one-line number that has outgrown its box (checked only when its length changes)
  function fit(el) {
    el.style.fontSize = "";
    if (el.scrollWidth > el.clientWidth) {
      el.style.fontSize = parseFloat(getComputedStyle(el).fontSize) * el.clientWidth / el.scrollWidth * 0.98 + "px";
    }
  }

  lw.WallStage = function (root, ctx) {
    var lang = ctx.lang;
    var inProductRow = function (el) { return !!el.closest("[data-sku]") || el.classList.contains("lw-hero-value"); };
    var metrics = D.bind(root, inProductRow);
    var f = D.fields(root);
    var counter = Counter(root.querySelector(".lw-hero-value"), lang);
    var bars = lw.Bars(root);
    var onstage = root.querySelector(".lw-onstage");
    var onstageMetrics = D.bind(onstage);
    var slots = Array.prototype.map.call(root.querySelectorAll(".lw-board-slot"), function (row) {
      return {row: row, name: row.querySelector('[data-field="products.name"]'), cells: D.bind(row),
              stock: row.querySelector(".lw-col-stock"), sku: null};
    });
    var sug = root.querySelector(".lw-sug");
    var rerunBox = root.querySelector(".lw-rerun-rows");
    var rerunRows = Array.prototype.map.call(root.querySelectorAll(".lw-rerun-row"), function (row) {
      return {row: row, name: row.querySelector('[data-field="rerun_name"]'),
              reason: row.querySelector('[data-field="rerun_reason"]')};
    });
    var comments = D.comments(root.querySelector(".lw-ticker-comments .lw-ticker-track"), "span", "lw-comment",
                              COMMENTS_SHOWN);
    var chart = lw.TrendChart(root.querySelector(".lw-trend-body"));
    var room = null, frame = null;

    // a product nobody has seen, clicked or bought says nothing on a wall: rows that are all zero stay off the
    // board (the product on stage always shows)
    function said(p) { return p.on_stage || p.viewers || p.clickers || p.buyers || p.gmv; }

    function renderProducts(fr) {
      var products = (fr.products || []).filter(said);
      var rows = products.slice(0, slots.length), live = null;
      for (var i = 0; i < products.length; i++) if (products[i].on_stage) { live = products[i]; break; }
      // the product on stage is always on the board, in the last row if it is not in the top ones
      if (live && rows.indexOf(live) < 0 && rows.length === slots.length) rows[rows.length - 1] = live;
      slots.forEach(function (slot, i) {
        var p = rows[i];
        if (!p) {
          if (slot.sku !== "") { slot.sku = ""; D.setAttr(slot.row, "data-sku", ""); slot.row.classList.add("is-empty"); }
          return;
        }
        if (slot.sku !== p.sku) {
          slot.sku = p.sku;
          D.setAttr(slot.row, "data-sku", p.sku);
          slot.row.classList.remove("is-empty");
        }
        D.setText(slot.row.firstChild, String(products.indexOf(p) + 1));
        D.setText(slot.name, p.name || p.sku);
        slot.row.classList.toggle("is-on-stage", !!p.on_stage);
        D.apply(slot.cells, {products: p}, lang);
        slot.stock.classList.toggle("is-low", p.stock !== null && p.stock > 0 && p.stock <= lw.constants.low_stock);
        slot.stock.classList.toggle("is-out", p.stock !== null && p.stock <= 0);
      });
      onstage.classList.toggle("is-empty", !live);
      if (live) {
        D.setAttr(onstage, "data-sku", live.sku);
        D.setText(f.onstage_name, live.name || live.sku);
        D.apply(onstageMetrics, {products: live}, lang);
        onstage.classList.toggle("is-low", live.stock !== null && live.stock <= lw.constants.low_stock);
      }
      D.setText(f.product_count, lw.fmt("int", lang, fr.product_count));
    }

    function render(fr, jump) {
      var m = fr.metrics;
      D.apply(metrics, m, lang);
      counter.set(m.gmv, jump);
      D.setText(f.room, fr.room);
      D.setPlatform(f.platform, lang, fr.platform);
      D.setText(f.title, m.title || "");
      D.setText(f.streamer, m.streamer || "");
      bars.render(m, lang);
      renderProducts(fr);
      comments.draw(fr.comments || []);
      root.setAttribute("data-state", m.ended ? "ended" : "live");
    }

    return {
      room: function () { return room; },
      // switch to `name` and draw its latest frame (null: nothing heard from it yet)
      show: function (name, fr, markers) {
        room = name;
        frame = fr;
        D.setAttr(root, "data-room", name);
        chart.redraw();
        comments.reset();
        if (fr) { render(fr, true); chart.update(fr, markers); }
        else {
          D.setText(f.room, name);
          D.setText(f.fresh, lw.t(lang, "waiting"));
          root.setAttribute("data-state", "waiting");
        }
      },
      render: function (fr, markers) {
        frame = fr;
        render(fr, false);
        chart.update(fr, markers);
      },
      redraw: function () { chart.redraw(); },
      insight: function (msg) {
        // what awaits a decision first, then what is only noted (a hold), then the latest decision
        var list = msg.suggestions || [];
        var s = list.filter(function (x) { return x.state === "proposed"; })[0] ||
                list.filter(function (x) { return x.state === "noted"; })[0] || list[0];
        sug.setAttribute("data-empty", s ? "0" : "1");
        if (s) {
          var say = lw.suggestionText(lang, s);
          D.setText(f.sug_action, lw.t(lang, s.action));
          D.setAttr(f.sug_action, "data-action", s.action);
          D.setText(f.sug_campaign, s.campaign || "");
          D.setText(f.sug_confidence, say.confidence);
          D.setText(f.sug_change, say.change);
          D.setText(f.sug_reverses, say.reverses);
          D.setText(f.sug_updated, say.updated);
          D.setText(f.sug_reason, lw.pick(lang, s.reason));
          D.setText(f.sug_state, lw.t(lang, s.state || "proposed"));
        }
        var picks = msg.recommendations || [];
        rerunBox.setAttribute("data-empty", picks.length ? "0" : "1");
        rerunRows.forEach(function (r, i) {
          var p = picks[i];
          r.row.classList.toggle("is-empty", !p);
          D.setText(r.name, p ? (p.name || p.sku) : "");
          D.setText(r.reason, p ? lw.pick(lang, p.reason) : "");
        });
      },
      // once a second: how long the session has run and how old the data is; returns the age (s) or null
      tick: function (now) {
        if (!frame) return null;
        var m = frame.metrics, age = Math.max(0, now - frame.updated);
        var ended = m.ended !== null && m.ended !== undefined;
        var runFor = ended ? m.ended - m.started : m.as_of - m.started + Math.min(age, lw.constants.stale_s);
        D.setText(f.elapsed, lw.fmt.clock(runFor));
        var stale = !ended && age > lw.constants.stale_s;
        root.classList.toggle("is-stale", stale);
        D.setText(f.fresh, ended ? lw.t(lang, "ended") : stale ? lw.t(lang, "stale", {age: lw.age(lang, age)}) : lw.t(lang, "live"));
        return stale ? age : null;
      }
    };
  };
})();
