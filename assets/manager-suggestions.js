/* Ad-spend suggestions of every room, for a person to approve or reject.
 *
 * Each `insight` message carries a room's whole list; cards are kept by suggestion id and updated in place, so
 * a button does not move or vanish under the pointer while the lists refresh. Proposals come first, by room and
 * campaign (a stable order), then decisions with who made them, newest first; holds (state `noted`: nothing to
 * do, never approvable) sit folded away below. A suggestion is a snapshot whose figures never change under the
 * reader; a newer one replaces its card (same place, "updated" mark), and approving an outdated id gets a 409
 * that the card explains. A card just decided keeps its place for a few seconds, so the next proposal does not
 * slide under the pointer that clicked.
 * Approve / Reject post once, on a click; a 409 means someone else decided first, and the page says so and
 * reads the room's list again to show what was decided.
 */
(function () {
  "use strict";
  var lw = window.livewall;
  var MAX_DECIDED = 20, SETTLE_MS = 6000;

  var hhmm = lw.fmt.hhmm;

  function isHold(s) { return s.state === "noted" || s.action === "hold"; }

  // ctx: lang, user (who has the page open: only a manager may decide), onCount(open proposals of every room)
  lw.ManagerSuggestions = function (box, ctx) {
    var D = lw.dom, lang = ctx.lang;
    var main = box.querySelector(".lw-m-sug-main"), holdsList = box.querySelector(".lw-m-holds-list");
    var holds = box.querySelector(".lw-m-holds"), holdCount = D.fields(holds).hold_count;
    var empty = box.querySelector(".lw-m-sug-empty");
    var byRoom = {}, cards = new Map(), notes = {}, only = null, scheduled = false;

    function figures(s, say) {
      var f = s.figures || {}, out = [];
      if (typeof f.paid_roi === "number") out.push(lw.t(lang, "m_fig_paid_roi", {v: lw.fmt("ratio", lang, f.paid_roi)}));
      if (typeof f.target_roi === "number") out.push(lw.t(lang, "m_fig_target", {v: lw.fmt("ratio", lang, f.target_roi)}));
      if (typeof f.spend === "number") out.push(lw.t(lang, "m_fig_spend", {v: lw.fmt("money", lang, f.spend)}));
      if (say.confidence) out.push(say.confidence);
      return out.join(" · ");
    }

    function card(s) {
      var c = cards.get(s.id);
      if (c) return c;
      var el = D.el("div", "lw-m-sug");
      el.setAttribute("data-suggestion", s.id);
      var head = D.el("div", "lw-m-sug-head");
      c = {el: el, s: s, busy: false};
      c.room = head.appendChild(D.el("span", "lw-m-chip lw-m-sug-room"));
      c.campaign = head.appendChild(D.el("span", "lw-m-sug-campaign"));
      c.updated = head.appendChild(D.el("span", "lw-m-sug-updated"));
      c.state = head.appendChild(D.el("span", "lw-m-sug-state"));
      var line = D.el("div", "lw-m-sug-line");
      c.action = line.appendChild(D.el("b", "lw-m-sug-action"));
      c.proposal = line.appendChild(D.el("span", "lw-m-sug-proposal"));
      c.reverses = D.el("div", "lw-m-sug-reverses");
      c.reason = D.el("div", "lw-m-sug-reason");
      c.figures = D.el("div", "lw-m-sug-figures");
      var foot = D.el("div", "lw-m-sug-foot");
      c.approve = foot.appendChild(D.el("button", "lw-m-btn lw-m-btn-approve", lw.t(lang, "m_approve")));
      c.reject = foot.appendChild(D.el("button", "lw-m-btn lw-m-btn-reject", lw.t(lang, "m_reject")));
      c.decided = foot.appendChild(D.el("span", "lw-m-sug-decided"));
      c.note = foot.appendChild(D.el("span", "lw-m-sug-note"));
      [c.approve, c.reject].forEach(function (b) { b.type = "button"; });
      c.approve.setAttribute("data-approve", s.id);
      c.reject.setAttribute("data-reject", s.id);
      c.approve.addEventListener("click", function () { decide(c, "approve"); });
      c.reject.addEventListener("click", function () { decide(c, "reject"); });
      [head, line, c.reverses, c.reason, c.figures, foot].forEach(function (n) { el.appendChild(n); });
      cards.set(s.id, c);
      return c;
    }

    function fill(c, s) {
      c.s = s;
      var open = s.state === "proposed" && !isHold(s), note = notes[s.id], say = lw.suggestionText(lang, s);
      D.setAttr(c.el, "data-state", s.state);
      D.setAttr(c.el, "data-action", s.action);
      D.setAttr(c.el, "data-room", s.room);
      D.setText(c.room, s.room);
      D.setText(c.campaign, s.campaign || "");
      D.setText(c.state, lw.t(lang, s.state));
      D.setText(c.action, lw.t(lang, s.action));
      D.setText(c.proposal, say.change);
      D.setText(c.updated, say.updated);
      D.setText(c.reverses, say.reverses);
      D.setText(c.reason, lw.pick(lang, s.reason));
      D.setText(c.figures, figures(s, say));
      c.approve.hidden = c.reject.hidden = !open || !lw.may(ctx.user, "manager", s.room);
      c.approve.disabled = c.reject.disabled = c.busy;
      D.setText(c.decided, s.state === "proposed" ? "" : isHold(s) ? lw.t(lang, "m_noted") : lw.t(lang, "m_decided_by", {
        state: lw.t(lang, s.state), by: s.decided_by || "?", at: s.decided_at ? hhmm(s.decided_at) : "?"}));
      D.setText(c.note, c.busy ? lw.t(lang, "m_sending") : note ? lw.t(lang, note.kind, {why: note.why}) : "");
      D.setAttr(c.note, "data-note", c.busy ? "sending" : note ? note.kind : "");
    }

    // put `items`' cards into `list` in that order, moving only those out of place
    function place(list, items) {
      items.forEach(function (s, i) {
        var c = card(s);
        fill(c, s);
        if (list.children[i] !== c.el) list.insertBefore(c.el, list.children[i] || null);
      });
    }

    function byCampaign(a, b) {
      var x = a.room + "\u0000" + (a.campaign || ""), y = b.room + "\u0000" + (b.campaign || "");
      return x < y ? -1 : x > y ? 1 : 0;
    }

    // still where it was when it was proposed: a card that left "proposed" less than SETTLE_MS ago
    function settling(s, now) {
      var c = cards.get(s.id);
      if (!c || s.state === "proposed" || isHold(s)) return false;
      if (!c.settledAt) {
        if (c.s.state !== "proposed") return false;
        c.settledAt = now;
        setTimeout(schedule, SETTLE_MS + 50);
      }
      return now - c.settledAt < SETTLE_MS;
    }

    function render() {
      scheduled = false;
      var open = [], hold = [], decided = [], waiting = 0, now = Date.now();
      Object.keys(byRoom).forEach(function (room) {
        byRoom[room].forEach(function (s) {
          var proposed = s.state === "proposed";
          if (proposed && !isHold(s)) waiting++;
          if (only && s.room !== only) return;
          if (isHold(s)) hold.push(s);
          else if (proposed) open.push(s);
          else (settling(s, now) ? open : decided).push(s);
        });
      });
      open.sort(byCampaign);
      decided.sort(function (a, b) { return (b.decided_at || 0) - (a.decided_at || 0); });
      hold.sort(byCampaign);
      var shown = open.concat(decided.slice(0, MAX_DECIDED)), keep = new Set();
      shown.concat(hold).forEach(function (s) { keep.add(s.id); });
      cards.forEach(function (c, id) { if (!keep.has(id)) { c.el.remove(); cards.delete(id); } });
      place(main, shown);
      place(holdsList, hold);
      empty.hidden = shown.length > 0;
      holds.hidden = !hold.length;
      D.setText(holdCount, String(hold.length));
      ctx.onCount(waiting);
    }

    function schedule() {
      if (!scheduled) { scheduled = true; requestAnimationFrame(render); }
    }

    function refresh(room) {
      fetch("/api/rooms/" + encodeURIComponent(room) + "/suggestions").then(function (r) {
        return r.ok ? r.json() : null;
      }).then(function (body) { if (body) { byRoom[room] = body.suggestions || []; schedule(); } })
        .catch(function () { /* the next insight message brings the list anyway */ });
    }

    function decide(c, verdict) {
      var s = c.s;
      c.busy = true;
      notes[s.id] = null;
      fill(c, s);
      fetch("/api/suggestions/" + encodeURIComponent(s.id) + "/" + verdict, {
        method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) { return {status: r.status, body: body}; });
      }).then(function (res) {
        c.busy = false;
        var got = res.body.suggestion, why = res.body.error || String(res.status);
        if (res.status === 200 && got) {
          byRoom[s.room] = (byRoom[s.room] || []).map(function (x) { return x.id === got.id ? got : x; });
          c.settledAt = Date.now();
          setTimeout(schedule, SETTLE_MS + 50);
          c.s = got;
        } else {
          notes[s.id] = {kind: res.status === 404 ? "m_gone" : res.status === 409 && res.body.superseded_by ? "m_superseded" :
            res.status === 409 && /already/.test(why) ? "m_conflict" : "m_failed", why: why};
          // the card of an outdated snapshot goes; the one that replaced it, in the same place, says why
          if (res.body.superseded_by) notes[res.body.superseded_by] = notes[s.id];
          refresh(s.room);
        }
        fill(c, c.s);
        schedule();
      }).catch(function (e) {
        c.busy = false;
        notes[s.id] = {kind: "m_failed", why: String(e && e.message || e)};
        fill(c, c.s);
      });
    }

    return {
      update: function (room, list) { byRoom[room] = list || []; schedule(); },
      // show one room's suggestions only (null: every room's)
      filter: function (room) { only = room; box.classList.toggle("is-filtered", !!room); schedule(); }
    };
  };
})();
