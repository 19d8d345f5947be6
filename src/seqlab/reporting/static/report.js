/* seqlab report: sortable, filterable leaderboard; interactive curves and sweep plots (Plotly).
 *
 * The page carries its data as JSON (#report-data) and Plotly as gzip+base64 (#plotly-gz), so it
 * opens from disk with no network. Plot choices persist in sessionStorage, which keeps them across
 * the periodic reloads of a page built by `seqlab-report --watch`.
 * Marks <body data-ready="yes"> once the table script ran and data-plots="ready" (or
 * "error: ...") once the plots are drawn, for tests and for users waiting on a large page.
 */
(function () {
  "use strict";
  var body = document.body;

  /* ---------- leaderboard: sort on header click, filter by text ---------- */
  function key(cell) {
    var raw = cell.getAttribute("data-v");
    var text = raw === null ? cell.textContent.trim() : raw;
    if (text === "") return null;
    var n = Number(text);
    return isNaN(n) ? text.toLowerCase() : n;
  }
  function compare(a, b) {
    if (a === null || b === null) return a === b ? 0 : (a === null ? 1 : -1);
    if (typeof a === typeof b) return a < b ? -1 : (a > b ? 1 : 0);
    return typeof a === "number" ? -1 : 1;
  }
  function sortBy(table, col, dir) {
    var tbody = table.tBodies[0];
    var rows = Array.prototype.slice.call(tbody.rows);
    rows.sort(function (r1, r2) {
      var a = key(r1.cells[col]), b = key(r2.cells[col]);
      if (a === null || b === null) return compare(a, b);  // blanks last either way
      return dir * compare(a, b);
    });
    rows.forEach(function (r) { tbody.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.classList.remove("asc", "desc");
      if (i === col) th.classList.add(dir > 0 ? "asc" : "desc");
    });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.title = "click to sort";
      th.addEventListener("click", function () {
        sortBy(table, col, th.classList.contains("asc") ? -1 : 1);
      });
    });
  });
  var filter = document.getElementById("leaderboard-filter");
  var board = document.getElementById("leaderboard");
  function applyFilter() {
    var terms = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0, rows = board.tBodies[0].rows;
    Array.prototype.forEach.call(rows, function (tr) {
      var text = tr.textContent.toLowerCase();
      tr.hidden = !terms.every(function (t) { return text.indexOf(t) >= 0; });
      if (!tr.hidden) shown++;
    });
    document.getElementById("leaderboard-count").textContent =
      terms.length ? shown + " of " + rows.length + " runs" : "";
  }
  if (filter && board) filter.addEventListener("input", applyFilter);

  /* Column chooser: the last validation values start folded (the best one is in "best"). */
  var COLUMNS = "seqlab-report-columns:" + document.title;
  function showColumn(col, on) {
    Array.prototype.forEach.call(board.rows, function (tr) {
      if (tr.cells[col]) tr.cells[col].hidden = !on;
    });
  }
  if (board) {
    var hiddenCols = null;
    try { hiddenCols = JSON.parse(sessionStorage.getItem(COLUMNS) || "null"); } catch (e) { /* defaults */ }
    var chooser = document.querySelector("#leaderboard-columns div");
    Array.prototype.forEach.call(board.tHead.rows[0].cells, function (th, col) {
      if (col === 0) return;
      var name = th.textContent, label = document.createElement("label"), box = document.createElement("input");
      box.type = "checkbox";
      box.checked = hiddenCols ? hiddenCols.indexOf(name) < 0 : !th.hasAttribute("data-hide");
      showColumn(col, box.checked);
      box.addEventListener("change", function () {
        showColumn(col, box.checked);
        var off = Array.prototype.filter.call(chooser.querySelectorAll("input"), function (b) { return !b.checked; })
          .map(function (b) { return b.parentNode.textContent; });
        try { sessionStorage.setItem(COLUMNS, JSON.stringify(off)); } catch (e) { /* not kept */ }
      });
      label.appendChild(box); label.appendChild(document.createTextNode(name));
      chooser.appendChild(label);
    });
  }
  body.setAttribute("data-ready", "yes");

  /* ---------- state shared by the plots ---------- */
  var dataNode = document.getElementById("report-data");
  if (!dataNode) return;
  var D = JSON.parse(dataNode.textContent);
  var STORE = "seqlab-report:" + D.title;
  var state = { metric: D.default_metric, hidden: [], smooth: 0, logy: false, group: "" };
  try {
    var saved = JSON.parse(sessionStorage.getItem(STORE) || "null");
    if (saved) Object.keys(state).forEach(function (k) { if (k in saved) state[k] = saved[k]; });
  } catch (e) { /* storage may be disabled for file:// pages: start from the defaults */ }
  if (D.metrics.indexOf(state.metric) < 0) state.metric = D.default_metric;
  if (state.group && D.swept.indexOf(state.group) < 0) state.group = "";
  function save() {
    try { sessionStorage.setItem(STORE, JSON.stringify(state)); } catch (e) { /* see above */ }
  }
  var byId = {};
  D.runs.forEach(function (r) { byId[r.id] = r; });
  function shown(run) { return state.hidden.indexOf(run.id) < 0; }

  /* ---------- Plotly, unpacked in the page ---------- */
  function loadPlotly() {
    if (window.Plotly) return Promise.resolve();
    if (typeof DecompressionStream === "undefined")
      return Promise.reject(new Error("this browser cannot unpack the plots (no DecompressionStream)"));
    var b64 = document.getElementById("plotly-gz").textContent.trim();
    var raw = atob(b64), bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text().then(function (src) { (0, eval)(src); });
  }

  /* ---------- learning curves ---------- */
  function smooth(ys, a) {
    if (!a) return ys;
    var out = [], m = null;
    ys.forEach(function (y) { m = m === null ? y : a * m + (1 - a) * y; out.push(m); });
    return out;
  }
  function alpha(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + a + ")";
  }
  function runTraces() {
    var traces = [];
    D.runs.forEach(function (run) {
      var s = run.series[state.metric];
      if (!s || !shown(run)) return;
      traces.push({
        x: s.x, y: smooth(s.y, state.smooth), name: run.label, meta: run.id,
        mode: s.x.length > 1 ? "lines" : "markers", line: { color: run.color, width: 1.6 },
        marker: { color: run.color }, hovertemplate: "%{fullData.name}<br>step %{x}: %{y:.4g}<extra></extra>"
      });
    });
    return traces;
  }
  function groupTraces() {
    var groups = {}, order = [];
    D.runs.forEach(function (run) {
      if (!shown(run) || !run.series[state.metric]) return;
      var v = run.params[state.group];
      if (!(v in groups)) { groups[v] = []; order.push(v); }
      groups[v].push(run);
    });
    var traces = [];
    order.forEach(function (v, gi) {
      var at = new Map();
      groups[v].forEach(function (run) {
        var s = run.series[state.metric], ys = smooth(s.y, state.smooth);
        s.x.forEach(function (x, i) { if (!at.has(x)) at.set(x, []); at.get(x).push(ys[i]); });
      });
      var xs = Array.from(at.keys()).sort(function (a, b) { return a - b; });
      var mean = [], lo = [], hi = [];
      xs.forEach(function (x) {
        var ys = at.get(x), m = ys.reduce(function (a, b) { return a + b; }, 0) / ys.length;
        var sd = ys.length > 1 ? Math.sqrt(ys.reduce(function (a, y) { return a + (y - m) * (y - m); }, 0) / (ys.length - 1)) : 0;
        mean.push(m); lo.push(m - sd); hi.push(m + sd);
      });
      var color = D.palette[gi % D.palette.length];
      var name = state.group + "=" + (v === "" ? "(default)" : v) + " (" + groups[v].length + " runs)";
      traces.push({ x: xs.concat(xs.slice().reverse()), y: hi.concat(lo.slice().reverse()),
        fill: "toself", fillcolor: alpha(color, 0.18), line: { width: 0 }, hoverinfo: "skip",
        showlegend: false, meta: "band:" + v });
      traces.push({ x: xs, y: mean, name: name, meta: "group:" + v, mode: "lines",
        line: { color: color, width: 2 }, customdata: lo.map(function (l, i) { return (hi[i] - l) / 2; }),
        hovertemplate: name + "<br>step %{x}: %{y:.4g} ± %{customdata:.2g}<extra></extra>" });
    });
    return traces;
  }
  function drawCurves() {
    var traces = state.group ? groupTraces() : runTraces();
    var layout = {
      margin: { t: 30, r: 10, b: 45, l: 60 }, height: 430, hovermode: "closest",
      title: { text: state.metric + (state.group ? " — mean ± sd by " + state.group : ""), font: { size: 14 } },
      xaxis: { title: { text: "step" } },
      yaxis: { title: { text: state.metric }, type: state.logy ? "log" : "linear" },
      legend: { font: { size: 11 } }
    };
    Plotly.react("curves-plot", traces, layout, { responsive: true, displaylogo: false });
    document.getElementById("curves-empty").hidden = traces.length > 0;
  }
  function syncRows() {
    Array.prototype.forEach.call(board.tBodies[0].rows, function (tr) {
      tr.classList.toggle("unplotted", state.hidden.indexOf(tr.getAttribute("data-run")) >= 0);
    });
    document.querySelectorAll("#run-picker input").forEach(function (box) {
      box.checked = state.hidden.indexOf(box.value) < 0;
    });
  }
  function setHidden(id, hide) {
    state.hidden = state.hidden.filter(function (h) { return h !== id; });
    if (hide) state.hidden.push(id);
    save(); syncRows(); drawCurves();
  }
  function controls() {
    var metric = document.getElementById("curve-metric");
    D.metrics.forEach(function (m) { metric.add(new Option(m, m, false, m === state.metric)); });
    metric.addEventListener("change", function () { state.metric = metric.value; save(); drawCurves(); });
    var group = document.getElementById("curve-group");
    D.swept.forEach(function (k) { group.add(new Option(k, k, false, k === state.group)); });
    group.value = state.group;
    group.addEventListener("change", function () { state.group = group.value; save(); drawCurves(); });
    var sm = document.getElementById("curve-smooth"), smText = document.getElementById("curve-smooth-value");
    sm.value = state.smooth; smText.textContent = Number(state.smooth).toFixed(2);
    sm.addEventListener("input", function () {
      state.smooth = Number(sm.value); smText.textContent = state.smooth.toFixed(2); save(); drawCurves();
    });
    var logy = document.getElementById("curve-logy");
    logy.checked = state.logy;
    logy.addEventListener("change", function () { state.logy = logy.checked; save(); drawCurves(); });
    var picker = document.getElementById("run-picker");
    D.runs.forEach(function (run) {
      var label = document.createElement("label"), box = document.createElement("input");
      box.type = "checkbox"; box.value = run.id;
      box.addEventListener("change", function () { setHidden(run.id, !box.checked); });
      var swatch = document.createElement("span");
      swatch.className = "swatch"; swatch.style.background = run.color;
      label.appendChild(box); label.appendChild(swatch); label.appendChild(document.createTextNode(run.label));
      picker.appendChild(label);
    });
    document.getElementById("runs-all").addEventListener("click", function () {
      state.hidden = []; save(); syncRows(); drawCurves();
    });
    document.getElementById("runs-none").addEventListener("click", function () {
      state.hidden = D.runs.map(function (r) { return r.id; }); save(); syncRows(); drawCurves();
    });
    Array.prototype.forEach.call(board.tBodies[0].rows, function (tr) {
      var id = tr.getAttribute("data-run");
      if (!byId[id]) return;
      tr.title = "click to show or hide this run in the learning curves";
      tr.addEventListener("click", function () { setHidden(id, shown(byId[id])); });
    });
    syncRows();
  }

  /* ---------- sweep: parallel coordinates and each swept key vs the score ---------- */
  function axis(k, runs) {
    var values = runs.map(function (r) { return r.params[k]; });
    if (D.numeric[k]) return { label: k, values: values.map(Number) };
    var levels = Array.from(new Set(values)).sort();
    return { label: k, values: values.map(function (v) { return levels.indexOf(v); }),
      tickvals: levels.map(function (_, i) { return i; }),
      ticktext: levels.map(function (v) { return v === "" ? "(default)" : v; }) };
  }
  function drawSweep() {
    var scored = D.runs.filter(function (r) { return r.score !== null; });
    if (!D.swept.length || scored.length < 2) return;
    var scores = scored.map(function (r) { return r.score; });
    var dims = D.swept.map(function (k) { return axis(k, scored); });
    dims.push({ label: "best " + D.metric, values: scores });
    Plotly.react("sweep-parcoords", [{
      type: "parcoords", dimensions: dims,
      line: { color: scores, colorscale: "Viridis", reversescale: D.mode === "min", showscale: true,
        colorbar: { title: { text: D.metric } } }
    }], { margin: { t: 50, r: 40, b: 20, l: 150 }, height: 380 }, { responsive: true, displaylogo: false });
    var box = document.getElementById("sweep-keys");
    var best = scores.indexOf((D.mode === "min" ? Math.min : Math.max).apply(null, scores));
    D.swept.forEach(function (k) {
      var div = document.createElement("div");
      div.className = "sweep-key";
      box.appendChild(div);
      var xs = scored.map(function (r) { return r.params[k] === "" ? "(default)" : r.params[k]; });
      Plotly.react(div, [
        { x: D.numeric[k] ? xs.map(Number) : xs, y: scores, mode: "markers", type: "scatter",
          text: scored.map(function (r) { return r.label; }), marker: { size: 9, color: "#1f77b4" },
          hovertemplate: "%{text}<br>" + D.metric + " %{y:.4g}<extra></extra>", name: "runs" },
        { x: [D.numeric[k] ? Number(xs[best]) : xs[best]], y: [scores[best]], mode: "markers",
          marker: { size: 16, color: "rgba(0,0,0,0)", line: { color: "#d62728", width: 2 } },
          name: "best (" + D.mode + ")", hoverinfo: "skip" }
      ], {
        title: { text: k + " vs best " + D.metric, font: { size: 13 } }, height: 300,
        margin: { t: 35, r: 40, b: 45, l: 55 }, showlegend: false,
        xaxis: { title: { text: k }, type: D.numeric[k] ? (D.logx[k] ? "log" : "linear") : "category" },
        yaxis: { title: { text: "best " + D.metric } }
      }, { responsive: true, displaylogo: false });
    });
  }

  loadPlotly().then(function () {
    controls();
    drawCurves();
    drawSweep();
    body.setAttribute("data-plots", "ready");
    if (D.refresh_s) setTimeout(function () { location.reload(); }, D.refresh_s * 1000);
  }).catch(function (err) {
    body.setAttribute("data-plots", "error: " + err.message);
    document.querySelectorAll(".plot-error").forEach(function (p) {
      p.hidden = false; p.textContent = "Interactive plots unavailable: " + err.message + ". PNGs are in plots/.";
    });
    console.error(err);
  });
})();
