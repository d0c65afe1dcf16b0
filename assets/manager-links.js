/* The link manager on /manager (managers and admins): make a share link (for a person, it expires) or a device
 * link (for a wall PC, until revoked), copy it, see the live ones and revoke them.
 *
 * The screen choices follow what the page shows: every room's wall and matrix always; with a room open, its
 * wall, its tablet and its manager view; with a review open, that review. The server checks everything again
 * (server/links.py). The list is asked for when the drawer opens and after each change, never on a timer.
 * Labels, rooms and names are written as text.
 */
(function () {
  "use strict";
  var lw = window.livewall;

  var EXPIRY = {
    share: [["l_1h", 3600], ["l_8h", 8 * 3600], ["l_1d", 86400], ["l_7d", 7 * 86400], ["l_30d", 30 * 86400]],
    device: [["l_never", null], ["l_1y", 365 * 86400], ["l_30d", 30 * 86400]]
  };
  var DEFAULT_EXPIRY = {share: 86400, device: null};

  lw.ManagerLinks = function (section, ctx) {
    var D = lw.dom, lang = ctx.lang, t = function (k, v) { return lw.t(lang, k, v); };
    var q = function (sel) { return section.querySelector(sel); };
    var form = q(".lw-m-link-form"), kind = q(".lw-m-link-kind"), screen = q(".lw-m-link-screen");
    // dcc.Input puts its class on a wrapper: the <input> is inside
    var expiry = q(".lw-m-link-expiry"), rooms = q(".lw-m-link-rooms input"), label = q(".lw-m-link-label input");
    var status = D.fields(section).link_status, made = q(".lw-m-link-made"), url = q(".lw-m-link-url input");
    var list = q(".lw-m-link-list"), empty = q(".lw-m-links-empty");

    function options(select, items, chosen) {
      select.replaceChildren.apply(select, items.map(function (it) {
        var o = D.el("option", null, it[0]);
        o.value = it[1] === null ? "" : String(it[1]);
        o.selected = it[1] === chosen;
        return o;
      }));
    }

    function fillChoices() {
      var v = ctx.view(), screens = [[t("l_wall_all"), "/wall"], [t("l_wall_matrix"), "/wall?mode=matrix"]];
      if (v.room) {
        var r = encodeURIComponent(v.room);
        screens.unshift([t("l_wall_room", {room: v.room}), "/wall?room=" + r],
                        [t("l_tablet", {room: v.room}), "/assistant/" + r],
                        [t("l_manager_room", {room: v.room}), "/manager?room=" + r]);
        if (v.session) {
          screens.splice(3, 0, [t("l_review", {session: v.session}),
                                "/manager?room=" + r + "&session=" + encodeURIComponent(v.session)]);
        }
      }
      options(screen, screens, screens[0][1]);
      options(kind, [[t("l_kind_share"), "share"], [t("l_kind_device"), "device"]], kind.value || "share");
      fillExpiry();
    }

    function fillExpiry() {
      var k = kind.value || "share";
      options(expiry, EXPIRY[k].map(function (e) { return [t(e[0]), e[1]]; }), DEFAULT_EXPIRY[k]);
    }

    function say(text, failed) { D.setText(status, text); status.classList.toggle("is-error", !!failed); }

    function call(method, path, body) {
      return fetch(path, {
        method: method, credentials: "same-origin",
        headers: body ? {"Content-Type": "application/json"} : {},
        body: body ? JSON.stringify(body) : undefined
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (b) {
          if (!r.ok) throw new Error(b.error || String(r.status));
          return b;
        });
      });
    }

    function when(ts) {
      var left = ts - Date.now() / 1000;
      if (left <= 0) return lw.fmt.DASH;
      return left >= 2 * 86400 ? t("l_days", {n: Math.floor(left / 86400)}) : lw.age(lang, left);
    }

    function row(link) {
      var el = D.el("div", "lw-m-link-row");
      el.setAttribute("data-link", link.id);
      el.setAttribute("data-kind", link.kind);
      var head = D.el("div", "lw-m-link-row-label", link.label);
      head.appendChild(D.el("span", "lw-m-link-row-kind", t(link.kind === "device" ? "l_device" : "l_share")));
      var meta = D.el("div", "lw-m-link-row-meta");
      meta.append(D.el("code", null, link.screen), " · ",
                  link.rooms ? link.rooms.join(", ") : t("l_all_rooms"), " · ",
                  link.expires ? t("l_expires", {when: when(link.expires)}) : t("l_no_expiry"), " · ",
                  t("l_by", {by: link.created_by}));
      var revoke = D.el("button", "lw-m-link-revoke", t("l_revoke"));
      revoke.type = "button";
      revoke.addEventListener("click", function () {
        revoke.disabled = true;
        call("DELETE", "/api/links/" + encodeURIComponent(link.id)).then(function () {
          say(t("l_revoked", {label: link.label}));
          load();
        }).catch(function (e) { revoke.disabled = false; say(t("l_failed", {why: e.message}), true); });
      });
      el.append(head, revoke, meta);
      return el;
    }

    function load() {
      return call("GET", "/api/links").then(function (b) {
        var links = b.links || [];
        list.replaceChildren.apply(list, links.map(row));
        empty.hidden = links.length > 0;
      }).catch(function (e) { say(t("l_failed", {why: e.message}), true); });
    }

    kind.addEventListener("change", fillExpiry);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var names = rooms.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
      say("");
      made.hidden = true;
      call("POST", "/api/links", {
        label: label.value.trim(), kind: kind.value, screen: screen.value,
        rooms: names.length ? names : null, expires_in_s: expiry.value ? Number(expiry.value) : null
      }).then(function (link) {
        url.value = location.origin + link.url;
        made.hidden = false;
        say(t("l_made", {label: link.label}));
        label.value = "";
        load();
      }).catch(function (err) { say(t("l_failed", {why: err.message}), true); });
    });
    q(".lw-m-link-copy").addEventListener("click", function () {
      url.select();
      var done = function () { say(t("l_copied")); };
      // the clipboard API needs a secure context (https or localhost); the selected field is the fallback
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(url.value).then(done, function () { /* the field stays selected */ });
      } else if (document.execCommand("copy")) done();
    });
    q(".lw-m-links-close").addEventListener("click", function () { section.hidden = true; });
    ctx.opener.hidden = false;
    ctx.opener.addEventListener("click", function () {
      section.hidden = !section.hidden;
      if (!section.hidden) { fillChoices(); say(""); made.hidden = true; load(); }
    });
  };
})();
