/* One room opened on the manager page: its header, KPI tiles, funnel, traffic sources and product table.
 *
 * Elements are found once; `render` only writes text and bar widths that changed. The product table holds the
 * rows a frame carries (the top products by GMV and the one on stage), sorted as the API sorts them.
 */
(function () {
  "use strict";
  var lw = window.livewall;

  // the API's order: GMV, then clickers, descending, then sku
  function byGmv(a, b) {
    return (b.gmv || 0) - (a.gmv || 0) || (b.clickers || 0) - (a.clickers || 0) || (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0);
  }

  function ended(m) { return m.ended !== null && m.ended !== undefined; }

  // ctx: lang, now() (server time), back()
  lw.ManagerDetail = function (root, ctx) {
    var D = lw.dom, lang = ctx.lang;
    var productsBox = root.querySelector(".lw-m-products");
    var metrics = D.bind(root, function (el) { return !!el.closest(".lw-m-products, .lw-m-sessions"); });
    var f = D.fields(root.querySelector(".lw-m-detail-head"));
    var pf = D.fields(productsBox.querySelector(".lw-m-box-extra"));
    var template = productsBox.querySelector('[data-template="product"]');
    var tbody = template.parentNode;
    var wallLink = root.querySelector(".lw-m-wall-link");
    var bars = lw.Bars(root);
    var audience = lw.ManagerAudience(root, ctx);
    var slots = [], room = null, frame = null;
    template.remove();

    root.querySelector(".lw-m-back").addEventListener("click", function () { ctx.back(); });

    function slot(i) {
      while (slots.length <= i) {
        var row = template.cloneNode(true);
        row.removeAttribute("data-template");
        tbody.appendChild(row);
        slots.push({row: row, rank: row.querySelector(".lw-m-rank"), name: row.querySelector('[data-field="products.name"]'),
                    cells: D.bind(row), stock: row.querySelector('[data-col="stock"]'), sku: null});
      }
      return slots[i];
    }

    function renderProducts(fr) {
      var products = (fr.products || []).slice().sort(byGmv);
      products.forEach(function (p, i) {
        var s = slot(i);
        if (s.sku !== p.sku) { s.sku = p.sku; D.setAttr(s.row, "data-sku", p.sku); }
        s.row.hidden = false;
        D.setText(s.rank, String(i + 1));
        D.setText(s.name, p.name || p.sku);
        s.row.classList.toggle("is-on-stage", !!p.on_stage);
        D.apply(s.cells, {products: p}, lang);
        s.stock.classList.toggle("is-low", p.stock !== null && p.stock > 0 && p.stock <= lw.constants.low_stock);
        s.stock.classList.toggle("is-out", p.stock !== null && p.stock <= 0);
      });
      for (var i = products.length; i < slots.length; i++) {
        if (!slots[i].row.hidden) { slots[i].row.hidden = true; slots[i].sku = null; D.setAttr(slots[i].row, "data-sku", ""); }
      }
      D.setText(pf.product_shown, lw.fmt("int", lang, products.length));
      D.setText(pf.product_count, lw.fmt("int", lang, fr.product_count === undefined ? products.length : fr.product_count));
    }

    function render(fr) {
      var m = fr.metrics;
      frame = fr;
      D.apply(metrics, m, lang);
      D.setPlatform(f.platform, lang, fr.platform);
      D.setText(f.title, m.title || "");
      D.setText(f.streamer, m.streamer || "");
      bars.render(m, lang);
      audience.render(fr);
      renderProducts(fr);
      D.setAttr(root, "data-state", ended(m) ? "ended" : "live");
      freshness(ctx.now());
    }

    // the "live / N s old / ended" pill; returns the age when the room's data is stale (else null)
    function freshness(now) {
      var m = frame.metrics, age = Math.max(0, now - frame.updated), done = ended(m), stale = !done && age > lw.constants.stale_s;
      root.classList.toggle("is-stale", stale);
      D.setText(f.fresh, done ? lw.t(lang, "ended") : stale ? lw.t(lang, "stale", {age: lw.age(lang, age)}) :
        lw.t(lang, "live"));
      return stale ? age : null;
    }

    function clear() {
      frame = null;
      D.apply(metrics, {}, lang);
      bars.render({}, lang);
      audience.render({metrics: {}, series: []});
      renderProducts({products: []});
      [f.platform, f.title, f.streamer].forEach(function (el) { D.setText(el, ""); });
      D.setText(f.fresh, lw.t(lang, "waiting"));
      D.setAttr(root, "data-state", "waiting");
    }

    return {
      // open `name` (null: none) with its latest frame, if any has come yet
      show: function (name, fr) {
        room = name;
        D.setAttr(root, "data-room", name || "");
        D.setText(f.room, name || "");
        wallLink.href = name ? "/wall?room=" + encodeURIComponent(name) + "&lang=" + lang : "/wall";
        if (fr) render(fr); else clear();
      },
      render: function (fr) { if (fr.room === room) render(fr); },
      tick: function (now) { return frame ? freshness(now) : null; }
    };
  };
})();
