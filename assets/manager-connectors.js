/* The platform connectors' state on /manager (GET /api/connectors, managers and admins): per connector its
 * kind, whether its last round succeeded, when it last did, its lag, errors in a row, the next poll and the last
 * error (text from the platform: written as text). The box stays hidden for anyone the server refuses, and
 * while no connector has reported (none configured). Asked once when the page starts and on each click of Refresh, never on a
 * timer (screens update by push; this state changes at the connectors' own pace).
 *
 * manager.js mounts it (one line) for those who may manage.
 */
(function () {
  "use strict";
  var lw = window.livewall;

  lw.ManagerConnectors = function (box, lang) {
    var t = function (k, v) { return lw.t(lang, k, v); };
    var D = lw.dom, list = box.querySelector(".lw-m-connector-list");

    function line(name, st, now) {
      var state = st.ok === null ? t("c_waiting") : st.ok ? t("c_ok") : t("c_failing", {n: st.errors});
      var bits = [st.last_success ? t("c_last", {age: lw.age(lang, now - st.last_success)}) : t("c_never")];
      if (st.lag_s !== null && st.lag_s !== undefined) bits.push(t("c_lag", {s: Math.round(st.lag_s)}));
      if (st.next_poll) bits.push(t("c_next", {s: Math.max(0, Math.round(st.next_poll - now))}));
      var row = D.el("div", "lw-m-connector" + (st.ok === false ? " is-error" : ""));
      row.setAttribute("data-connector", name);
      row.append(D.el("span", "lw-m-connector-name", name), D.el("span", "lw-m-connector-kind", st.kind),
                 D.el("span", "lw-m-connector-state", state), D.el("span", "lw-m-connector-figs", bits.join(" · ")));
      if (st.last_error && st.ok === false) row.append(D.el("span", "lw-m-connector-error", st.last_error));
      return row;
    }

    function load() {
      fetch("/api/connectors").then(function (r) {
        if (!r.ok) throw new Error(String(r.status));
        return r.json();
      }).then(function (doc) {
        var names = Object.keys(doc.connectors || {}).sort(), now = Date.now() / 1000;
        list.replaceChildren.apply(list, names.map(function (n) { return line(n, doc.connectors[n], now); }));
        box.hidden = !names.length;
      }).catch(function () { box.hidden = true; });
    }

    box.querySelector(".lw-m-conn-refresh").addEventListener("click", load);
    load();
  };
})();
