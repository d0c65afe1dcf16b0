/* The tablet's actions (the routes of server/stage_actions.py): put a product on stage from the re-run picks or
 * the product picker, take it off (after a confirm: it stops the pitch), ask the manager for a restock.
 *
 * One click handler on the screen for every `[data-action]` control. Nothing here waits for the result to show
 * on screen: the product comes on stage by the next frame, like any event. Only the picker asks the server
 * (when someone opens it, searches or turns a page). Product names are set as text.
 */
(function () {
  "use strict";
  var lw = window.livewall;
  var D = lw.dom;
  var PAGE = 8;              // products per picker page: big rows a finger can hit
  var SEARCH_DELAY_MS = 250; // a search once the typing pauses, not at every key
  var STATUS_MS = 4000;

  function post(path, body) {
    return fetch(path, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)})
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          if (!r.ok) throw new Error(data.error || String(r.status));
          return data;
        });
      });
  }

  // root: the screen; room; lang; stage(): {sku, name} of the product on stage or null
  lw.TabletActions = function (root, room, lang, stage) {
    var base = "/api/rooms/" + encodeURIComponent(room);
    var status = root.querySelector(".lw-as-act-status");
    var picker = root.querySelector(".lw-as-picker");
    var query = D.el("input", "lw-as-picker-q");
    var list = picker.querySelector(".lw-as-picker-list");
    var pageText = picker.querySelector(".lw-as-picker-page");
    var prev = picker.querySelector('[data-action="page-prev"]'), next = picker.querySelector('[data-action="page-next"]');
    var confirm = root.querySelector(".lw-as-confirm");
    var statusTimer = null, searchTimer = null, offset = 0, asked = 0, pending = null;

    query.type = "search";
    query.autocomplete = "off";
    query.setAttribute("placeholder", lw.t(lang, "as_search_ph"));
    query.setAttribute("aria-label", lw.t(lang, "as_search_ph"));
    picker.querySelector(".lw-as-picker-search").appendChild(query);

    function say(text, failed) {
      D.setText(status, text);
      status.classList.toggle("is-failed", !!failed);
      clearTimeout(statusTimer);
      statusTimer = setTimeout(function () { D.setText(status, ""); }, STATUS_MS);
    }

    function run(button, path, body, done) {
      button.disabled = true;
      return post(base + path, body).then(function (data) {
        say(done(data));
      }, function (e) {
        say(lw.t(lang, "as_act_failed", {why: e.message}), true);
        throw e;
      }).finally(function () { button.disabled = false; });
    }

    function putOn(button) {
      var sku = button.getAttribute("data-sku");
      if (!sku) return;
      run(button, "/stage", {sku: sku}, function (data) {
        return lw.t(lang, "as_put_done", {name: data.event.name || sku});
      }).then(function () { if (picker.contains(button)) close(); }, function () {});
    }

    function restock(button) {
      var on = stage();
      if (!on) return;
      run(button, "/restock", {sku: on.sku}, function () {
        return lw.t(lang, "as_restock_done", {name: on.name});
      }).catch(function () {});
    }

    function askOff() {
      pending = stage();
      if (!pending) return;
      D.setText(confirm.querySelector(".lw-as-confirm-text"), lw.t(lang, "as_off_ask", {name: pending.name}));
      confirm.hidden = false;
      confirm.querySelector('[data-action="confirm-off"]').focus();
    }

    function takeOff(button) {
      var on = pending;
      if (!on) return;
      run(button, "/stage/off", {sku: on.sku}, function () {
        return lw.t(lang, "as_off_done", {name: on.name});
      }).then(function () { confirm.hidden = true; }, function () { confirm.hidden = true; });
    }

    function row(p) {
      var li = D.el("li", "lw-as-pick");
      var text = D.el("div", "lw-as-pick-text");
      text.appendChild(D.el("div", "lw-as-pick-name", p.name || p.sku));
      var facts = [p.sku];
      if (typeof p.price === "number") facts.push(lw.fmt("price", lang, p.price));
      if (p.stock !== null && p.stock !== undefined) facts.push(lw.t(lang, "as_stock_n", {n: lw.fmt("stock", lang, p.stock)}));
      text.appendChild(D.el("div", "lw-as-pick-facts", facts.join(" · ")));
      li.appendChild(text);
      var button = D.el("button", "lw-as-act lw-as-act-put", lw.t(lang, p.on_stage ? "as_on_stage" : "as_put_on"));
      button.type = "button";
      button.disabled = !!p.on_stage;
      button.setAttribute("data-action", "put-on-stage");
      button.setAttribute("data-sku", p.sku);
      li.appendChild(button);
      return li;
    }

    // a page of the picker; a slower answer to an older question is dropped
    function load() {
      var mine = ++asked;
      var q = query.value.trim();
      fetch(base + "/products?limit=" + PAGE + "&offset=" + offset + (q ? "&q=" + encodeURIComponent(q) : ""))
        .then(function (r) { return r.json().then(function (d) { if (!r.ok) throw new Error(d.error || r.status); return d; }); })
        .then(function (data) {
          if (mine !== asked) return;
          var pages = Math.max(1, Math.ceil(data.total / PAGE));
          list.replaceChildren.apply(list, data.products.length ? data.products.map(row)
            : [D.el("li", "lw-as-pick-none", lw.t(lang, "as_no_match"))]);
          D.setText(pageText, lw.t(lang, "as_page", {n: Math.floor(offset / PAGE) + 1, m: pages, total: data.total}));
          prev.disabled = offset === 0;
          next.disabled = offset + PAGE >= data.total;
        }, function (e) {
          if (mine === asked) say(lw.t(lang, "as_act_failed", {why: e.message}), true);
        });
    }

    function open() {
      picker.hidden = false;
      offset = 0;
      load();
      query.focus();
    }

    function close() { picker.hidden = true; }

    query.addEventListener("input", function () {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(function () { offset = 0; load(); }, SEARCH_DELAY_MS);
    });

    var ACTIONS = {
      "put-on-stage": putOn,
      "restock": restock,
      "take-off": askOff,
      "confirm-off": takeOff,
      "cancel-off": function () { confirm.hidden = true; pending = null; },
      "open-products": open,
      "close-products": close,
      "page-prev": function () { offset = Math.max(0, offset - PAGE); load(); },
      "page-next": function () { offset += PAGE; load(); }
    };

    root.addEventListener("click", function (e) {
      var button = e.target.closest("[data-action]");
      if (!button || button.disabled || !root.contains(button)) return;
      var act = ACTIONS[button.getAttribute("data-action")];
      if (act) act(button);
    });
    root.addEventListener("keydown", function (e) {
      if (e.key !== "Escape") return;
      close();
      confirm.hidden = true;
    });
  };
})();
