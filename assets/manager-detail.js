/* One room opened on the manager page: its header, KPI tiles, funnel, traffic sources and product table.
 *
 * Elements are found once; `render` only writes text and bar widths that changed. The product table's first
 * page is live: the rows a frame carries (the top products by GMV and the one on stage), sorted as the API sorts
 * them. A search (sku or name), another page or a bigger page asks the API (GET /api/rooms/<room>/products
 * ?q=&limit=&offset=) when someone types or clicks, and shows that answer until the next question.
 */
(function () {
  "use strict";
  var lw = window.livewall;

  // the API's order: GMV, then clickers, descending, then sku
  function byGmv(a, b) {
    return (b.gmv || 0) - (a.gmv || 0) || (b.clickers || 0) - (a.clickers || 0) || (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0);
  }

  function ended(m) { return m.ended !== null && m.ended !== undefined; }
  var LIVE_ROWS = 30;          // what a frame carries (engine/runner.py FRAME_PRODUCTS): a first page up to this is live
  var SEARCH_DELAY_MS = 250;

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
    var query = D.el("input", "lw-m-product-q");
    query.type = "search";
    query.setAttribute("placeholder", lw.t(lang, "m_search_ph"));
    productsBox.querySelector(".lw-m-product-search").appendChild(query);
    var prev = productsBox.querySelector(".lw-m-page-prev"), next = productsBox.querySelector(".lw-m-page-next");
    var sizeSelect = productsBox.querySelector(".lw-m-page-size");
    var pageText = productsBox.querySelector('[data-field="product_page"]');
    var none = productsBox.querySelector(".lw-m-product-none");
    // the table's question: page (from 0), size, q; `asked` (API rows) is null while the first page is live
    var want = {page: 0, size: +sizeSelect.value || 25, q: ""}, asked = null, total = 0, question = 0, timer = null;

    function live() { return want.page === 0 && want.q === "" && want.size <= LIVE_ROWS; }

    function ask() {
      var mine = ++question;
      if (live()) {
        asked = null;
        if (frame) renderProducts(frame); else renderProducts({products: []});
        return;
      }
      var url = "/api/rooms/" + encodeURIComponent(room) + "/products?limit=" + want.size + "&offset=" +
        want.page * want.size + (want.q ? "&q=" + encodeURIComponent(want.q) : "");
      fetch(url).then(function (r) {
        return r.json().then(function (d) { if (!r.ok) throw new Error(d.error || r.status); return d; });
      }).then(function (data) {
        if (mine !== question) return;   // a newer question was asked meanwhile
        asked = data;
        renderProducts(frame || {products: []});
      }, function (e) {
        if (mine !== question) return;
        none.hidden = false;
        D.setText(none, lw.t(lang, "m_search_failed", {why: e.message}));
      });
    }

    query.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { want.q = query.value.trim(); want.page = 0; ask(); }, SEARCH_DELAY_MS);
    });
    prev.addEventListener("click", function () { if (want.page > 0) { want.page--; ask(); } });
    next.addEventListener("click", function () { want.page++; ask(); });
    sizeSelect.addEventListener("change", function () { want.size = +sizeSelect.value; want.page = 0; ask(); });

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

    // the first page from the frame: its top `size` rows, and the product on stage wherever it ranks
    function liveRows(fr) {
      var all = (fr.products || []).slice().sort(byGmv);
      return all.filter(function (p, i) { return i < want.size || p.on_stage; });
    }

    function renderProducts(fr) {
      var products = asked ? asked.products : liveRows(fr);
      total = asked ? asked.total : (fr.product_count === undefined ? (fr.products || []).length : fr.product_count);
      var first = asked ? want.page * want.size : 0;
      products.forEach(function (p, i) {
        var s = slot(i);
        if (s.sku !== p.sku) { s.sku = p.sku; D.setAttr(s.row, "data-sku", p.sku); }
        s.row.hidden = false;
        D.setText(s.rank, String(first + i + 1));
        D.setText(s.name, p.name || p.sku);
        s.row.classList.toggle("is-on-stage", !!p.on_stage);
        D.apply(s.cells, {products: p}, lang);
        s.stock.classList.toggle("is-low", p.stock !== null && p.stock > 0 && p.stock <= lw.constants.low_stock);
        s.stock.classList.toggle("is-out", p.stock !== null && p.stock <= 0);
      });
      for (var i = products.length; i < slots.length; i++) {
        if (!slots[i].row.hidden) { slots[i].row.hidden = true; slots[i].sku = null; D.setAttr(slots[i].row, "data-sku", ""); }
      }
      var pages = Math.max(1, Math.ceil(total / want.size));
      D.setText(pageText, lw.t(lang, "m_page", {n: want.page + 1, m: lw.fmt("int", lang, pages), total: lw.fmt("int", lang, total)}));
      prev.disabled = want.page === 0;
      next.disabled = want.page + 1 >= pages;
      none.hidden = products.length > 0 || !frame;
      D.setText(none, lw.t(lang, "m_no_match"));
      D.setText(pf.product_shown, lw.fmt("int", lang, products.length));
      D.setText(pf.product_count, lw.fmt("int", lang, total));
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
        want.page = 0; want.q = ""; query.value = ""; asked = null; question++;
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
