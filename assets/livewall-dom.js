/* Writing into the page cheaply: every live element is looked up once, and a write happens only when the
 * text actually changes. Text only: data (comments, product names) never goes through innerHTML.
 *
 * Text from viewers is isolated for bidi: an element holding only such text gets dir="auto" (`viewer`), and the
 * parts of an alert's sentence quoted from viewers (between FSI and PDI: insights/alerts.py) each go into a
 * <bdi>, so an U+202E in a product name cannot turn the rest of the sentence around. */
(function () {
  "use strict";
  var lw = window.livewall;
  var FSI = "\u2068", QUOTED = /\u2068([^\u2069]*)\u2069/, MARKS = /[\u2068\u2069]/g;
  var SHOWN = 40;   // characters of one quoted part shown before "…": a 7,000-character name leaves the sentence readable

  // The text without its quote marks, for a title or a copy.
  function plain(text) { return String(text).replace(MARKS, ""); }

  // Quoted parts are shortened unless el has the class is-full; then el's title holds the whole text.
  // Returns whether a part was shortened.
  function write(el, text) {
    if (typeof text !== "string" || text.indexOf(FSI) < 0) {
      el.textContent = text;
      return false;
    }
    var full = el.classList.contains("is-full"), cut = false;
    el.replaceChildren.apply(el, text.split(QUOTED).map(function (part, i) {
      if (i % 2 === 0) return document.createTextNode(part);
      var chars = Array.from(part), b = document.createElement("bdi");   // code points: never half a character
      if (!full && chars.length > SHOWN) {
        part = chars.slice(0, SHOWN - 1).join("") + "…";
        cut = true;
      }
      b.textContent = part;
      return b;
    }));
    el.title = plain(text);
    return cut;
  }

  function setText(el, text) {
    if (el.__lwText !== text) {
      el.__lwCut = write(el, text);
      el.__lwText = text;
    }
  }

  // show el's quoted parts whole (full) or shortened again
  function setFull(el, full) {
    el.classList.toggle("is-full", full);
    el.__lwCut = write(el, el.__lwText);
  }

  // an element whose text is a viewer's (a name, a comment): its direction from its own first strong character,
  // isolated from the text around it
  function viewer(el) {
    el.dir = "auto";
    return el;
  }

  // a bar's length in %; written only when it moved
  function setWidth(el, pct) {
    var w = pct.toFixed(2) + "%";
    if (el.__lwWidth !== w) {
      el.style.width = w;
      el.__lwWidth = w;
    }
  }

  function setAttr(el, name, value) {
    value = String(value);
    if (el.getAttribute(name) !== value) el.setAttribute(name, value);
  }

  function get(obj, path) {
    for (var i = 0; i < path.length && obj !== null && obj !== undefined; i++) obj = obj[path[i]];
    return obj;
  }

  // The [data-metric] elements under root (skipping those that `skip(el)` claims), resolved once.
  // data-scale="<metric>": money in the unit that metric's value calls for (the net GMV beside the hero GMV);
  // data-place="<name>": money in one unit for every element of that name on the page (a table column, the
  // tiles' GMV), chosen from the largest; data-judge="<metric>": data-level good/warn/bad/none against that
  // metric as a target (paid ROI against target_roi), for CSS to colour.
  function bind(root, skip) {
    var out = [];
    root.querySelectorAll("[data-metric]").forEach(function (el) {
      if (skip && skip(el)) return;
      var scale = el.getAttribute("data-scale"), judge = el.getAttribute("data-judge");
      out.push({el: el, path: el.getAttribute("data-metric").split("."), fmt: el.getAttribute("data-fmt") || "int",
                scale: scale ? scale.split(".") : null, place: el.getAttribute("data-place"),
                judge: judge ? judge.split(".") : null});
    });
    return out;
  }

  // place name -> {members: Map(el -> value), key: the unit written}
  var places = {};

  function writePlace(name, fmt, lang) {
    var p = places[name], top = 0;
    p.members.forEach(function (v, el) {
      if (!el.isConnected) p.members.delete(el);
      else if (typeof v === "number" && v === v) top = Math.max(top, Math.abs(v));
    });
    var key = lw.fmt.unit(fmt, lang, top).key;
    var all = key !== p.key;
    p.key = key;
    return {top: top, all: all};
  }

  function applyPlaced(b, v, lang) {
    var p = places[b.place] || (places[b.place] = {members: new Map(), key: null});
    p.members.set(b.el, v);
    var w = writePlace(b.place, b.fmt, lang);
    if (!w.all) { setText(b.el, lw.fmt(b.fmt, lang, v, w.top)); return; }
    p.members.forEach(function (x, el) { setText(el, lw.fmt(b.fmt, lang, x, w.top)); });
  }

  function apply(bindings, source, lang) {
    for (var i = 0; i < bindings.length; i++) {
      var b = bindings[i], v = get(source, b.path);
      if (b.place && lw.fmt.isMoney(b.fmt)) applyPlaced(b, v, lang);
      else if (b.scale && typeof v === "number") setText(b.el, lw.fmt(b.fmt, lang, v, Math.abs(get(source, b.scale) || 0)));
      else setText(b.el, lw.fmt(b.fmt, lang, v));
      if (b.judge) setAttr(b.el, "data-level", lw.fmt.vsTarget(v, get(source, b.judge)));
      if (b.path[b.path.length - 1] === "cvr") cvrHint(b, source, v, lang);
    }
  }

  // A CVR over 100% means buyers who never clicked (replayed or partial data): say how many at least, rather
  // than a bare 200.0% (marked *, the count in the title and in data-hint for a screen's own line).
  function cvrHint(b, source, v, lang) {
    var over = typeof v === "number" && v > 1;
    var where = b.path.slice(0, -1), buyers = get(source, where.concat("buyers")), clickers = get(source, where.concat(
      where.length ? "clickers" : "product_clickers"));
    var hint = over && typeof buyers === "number" && typeof clickers === "number" ?
      lw.t(lang, "cvr_over", {n: lw.fmt("int", lang, buyers - clickers)}) : "";
    if (hint) setText(b.el, lw.fmt(b.fmt, lang, v) + "*");
    setAttr(b.el, "data-hint", hint ? "cvr-over" : "");
    if (hint || b.el.title) b.el.title = hint;
  }

  // data-field name -> element (the first one), for text that is not a metric
  function fields(root) {
    var out = {};
    root.querySelectorAll("[data-field]").forEach(function (el) {
      var k = el.getAttribute("data-field");
      if (!out[k]) out[k] = el;
    });
    return out;
  }

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) setText(e, text);
    return e;
  }

  // a room's platform badge: its name in the screen's language, its colour from data-platform (CSS)
  function setPlatform(el, lang, platform) {
    platform = platform || "other";
    setText(el, lw.t(lang, platform));
    setAttr(el, "data-platform", platform);
  }

  // Dash renders a page's layout after its clientside start callback may run: start once the element is there
  function whenInDom(selector, then) {
    var el = document.querySelector(selector);
    if (el) then(el); else requestAnimationFrame(function () { whenInDom(selector, then); });
  }

  // The latest viewer comments in `box`, newest first, each an element <tag class=cls> holding <b cls-user>
  // and <span cls-text>, as text; redrawn only when the list changed (reset(): on the next draw regardless)
  function comments(box, tag, cls, shown) {
    var key = "";
    return {
      draw: function (list) {
        var last = list[list.length - 1];
        var k = list.length + (last ? last.ts + last.user + last.text : "");
        if (k === key) return;
        key = k;
        box.replaceChildren.apply(box, list.slice(-shown).reverse().map(function (c) {
          var item = el(tag, cls);
          item.appendChild(viewer(el("b", cls + "-user", c.user)));
          item.appendChild(viewer(el("span", cls + "-text", c.text)));
          return item;
        }));
      },
      reset: function () { key = ""; }
    };
  }

  lw.dom = {setFull: setFull, viewer: viewer, comments: comments, whenInDom: whenInDom, setPlatform: setPlatform, setText: setText, setWidth: setWidth, setAttr: setAttr, get: get, bind: bind, apply: apply, fields: fields, el: el};
})();
