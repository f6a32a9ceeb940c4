/* keras_iml report tables: sortable static tables; data tables that filter, sort and page. */
(function () {
  "use strict";

  function cellKey(value) {
    if (value === null || value === undefined || value === "") { return [2, ""]; }
    if (typeof value === "number") { return [0, value]; }
    var n = Number(value);
    if (String(value).trim() !== "" && !isNaN(n)) { return [0, n]; }
    return [1, String(value).toLowerCase()];
  }

  function compare(a, b) {
    var ka = cellKey(a), kb = cellKey(b);
    if (ka[0] !== kb[0]) { return ka[0] - kb[0]; }
    if (ka[1] < kb[1]) { return -1; }
    if (ka[1] > kb[1]) { return 1; }
    return 0;
  }

  function markSorted(headers, index, direction) {
    headers.forEach(function (h, i) {
      h.classList.remove("sorted-asc", "sorted-desc");
      if (i === index) { h.classList.add(direction > 0 ? "sorted-asc" : "sorted-desc"); }
    });
  }

  function enhanceStatic(table) {
    var headers = Array.prototype.slice.call(table.querySelectorAll("thead th"));
    var state = { index: -1, direction: 1 };
    headers.forEach(function (th, index) {
      th.addEventListener("click", function () {
        state.direction = state.index === index ? -state.direction : 1;
        state.index = index;
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (ra, rb) {
          var a = ra.cells[index], b = rb.cells[index];
          var va = a.hasAttribute("data-sort") ? Number(a.getAttribute("data-sort")) : a.textContent;
          var vb = b.hasAttribute("data-sort") ? Number(b.getAttribute("data-sort")) : b.textContent;
          if (va === "\u2014") { va = null; }
          if (vb === "\u2014") { vb = null; }
          return state.direction * compare(va, vb);
        });
        rows.forEach(function (r) { body.appendChild(r); });
        markSorted(headers, index, state.direction);
      });
    });
  }

  function formatCell(value) {
    if (value === null || value === undefined) { return "\u2014"; }
    if (typeof value === "number") {
      if (Number.isInteger(value)) { return String(value); }
      var a = Math.abs(value);
      return (a !== 0 && (a >= 1e5 || a < 1e-3)) ? value.toExponential(2) : String(Number(value.toPrecision(3)));
    }
    return String(value);
  }

  function statusClass(text) {
    var t = text.toLowerCase();
    if (t === "pass" || t === "true") { return "s-pass"; }
    if (t === "fail" || t === "false") { return "s-fail"; }
    return "";
  }

  function DataTable(container, data) {
    var columns = data.columns, all = data.rows, pageSize = data.page_size || 50;
    var state = { query: "", selects: {}, sortIndex: -1, direction: 1, page: 0 };
    var controls = document.createElement("div");
    controls.className = "controls";
    var search = document.createElement("input");
    search.type = "search";
    search.placeholder = "filter rows\u2026";
    search.setAttribute("aria-label", "filter rows");
    search.className = "dt-search";
    controls.appendChild(search);
    data.filters.forEach(function (name) {
      var col = columns.indexOf(name);
      var values = {};
      all.forEach(function (r) { values[formatCell(r[col])] = true; });
      var select = document.createElement("select");
      select.className = "dt-filter";
      select.setAttribute("data-column", name);
      select.setAttribute("aria-label", "filter " + name);
      var any = document.createElement("option");
      any.value = "";
      any.textContent = name + ": all";
      select.appendChild(any);
      Object.keys(values).sort().forEach(function (v) {
        var o = document.createElement("option");
        o.value = v;
        o.textContent = v;
        select.appendChild(o);
      });
      select.addEventListener("change", function () {
        state.selects[col] = select.value;
        state.page = 0;
        draw();
      });
      controls.appendChild(select);
    });
    var count = document.createElement("span");
    count.className = "count";
    controls.appendChild(count);
    container.appendChild(controls);

    var wrap = document.createElement("div");
    wrap.className = "table-wrap";
    var table = document.createElement("table");
    table.className = "dynamic";
    var thead = table.createTHead();
    var headRow = thead.insertRow();
    var headers = columns.map(function (name, index) {
      var th = document.createElement("th");
      th.textContent = name;
      th.title = "click to sort";
      th.addEventListener("click", function () {
        state.direction = state.sortIndex === index ? -state.direction : 1;
        state.sortIndex = index;
        state.page = 0;
        draw();
      });
      headRow.appendChild(th);
      return th;
    });
    var tbody = table.createTBody();
    wrap.appendChild(table);
    container.appendChild(wrap);

    var pager = document.createElement("div");
    pager.className = "pager";
    var prev = document.createElement("button");
    prev.textContent = "\u2190 previous";
    var next = document.createElement("button");
    next.textContent = "next \u2192";
    var pageInfo = document.createElement("span");
    pageInfo.className = "count";
    pager.appendChild(prev);
    pager.appendChild(pageInfo);
    pager.appendChild(next);
    container.appendChild(pager);
    prev.addEventListener("click", function () { state.page -= 1; draw(); });
    next.addEventListener("click", function () { state.page += 1; draw(); });
    search.addEventListener("input", function () {
      state.query = search.value.trim().toLowerCase();
      state.page = 0;
      draw();
    });

    function visibleRows() {
      var rows = all.filter(function (r) {
        for (var key in state.selects) {
          if (state.selects[key] && formatCell(r[key]) !== state.selects[key]) { return false; }
        }
        if (!state.query) { return true; }
        return r.some(function (v) { return formatCell(v).toLowerCase().indexOf(state.query) >= 0; });
      });
      if (state.sortIndex >= 0) {
        var i = state.sortIndex, d = state.direction;
        rows = rows.slice().sort(function (a, b) { return d * compare(a[i], b[i]); });
      }
      return rows;
    }

    function draw() {
      var rows = visibleRows();
      var pages = Math.max(1, Math.ceil(rows.length / pageSize));
      state.page = Math.min(Math.max(state.page, 0), pages - 1);
      var start = state.page * pageSize;
      var shown = rows.slice(start, start + pageSize);
      while (tbody.firstChild) { tbody.removeChild(tbody.firstChild); }
      shown.forEach(function (r) {
        var tr = tbody.insertRow();
        r.forEach(function (v) {
          var td = tr.insertCell();
          td.textContent = formatCell(v);
          var cls = statusClass(td.textContent);
          if (cls) { td.className = cls; }
        });
      });
      count.textContent = rows.length + " of " + all.length + " rows";
      pageInfo.textContent = "page " + (state.page + 1) + " / " + pages;
      prev.disabled = state.page === 0;
      next.disabled = state.page >= pages - 1;
      if (state.sortIndex >= 0) { markSorted(headers, state.sortIndex, state.direction); }
    }
    draw();
  }

  document.querySelectorAll("table.sortable").forEach(enhanceStatic);
  document.querySelectorAll("div.datatable").forEach(function (container) {
    var source = document.getElementById(container.getAttribute("data-source"));
    DataTable(container, JSON.parse(source.textContent));
  });
}());
