"""The report's inline CSS and JavaScript: report.html must open from disk with no network.

The script sorts the leaderboard when a column header is clicked (numbers numerically, text
naturally, blanks always last) and marks <body data-ready="yes"> once it has run, which the
browser test reads to know the script executed without error.
"""

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em auto;
       max-width: 1400px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
.meta { color: #555; } code, pre { font: 12px/1.4 ui-monospace, Menlo, Consolas, monospace; }
pre { background: #f6f8fa; padding: 0.5em; overflow-x: auto; white-space: pre-wrap; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: left; vertical-align: top; }
#leaderboard td { white-space: nowrap; }
table.samples td { max-width: 36em; overflow-wrap: anywhere; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.sortable th { cursor: pointer; background: #f0f3f6; position: sticky; top: 0; user-select: none; }
table.sortable th:hover { background: #e2e8ee; }
th.asc::after { content: " \\25B2"; } th.desc::after { content: " \\25BC"; }
tr.failed td, tr.unknown td { background: #fff1f0; } tr.best td { background: #eefbea; }
.error { color: #b42318; display: inline-block; min-width: 18em; white-space: normal; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; border: 1px solid #eee; padding: 0.4em; }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 12px; color: #555; }
details { margin: 0.3em 0; } summary { cursor: pointer; }
"""

JS = """
(function () {
  "use strict";
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
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r1, r2) {
      var a = key(r1.cells[col]), b = key(r2.cells[col]);
      if (a === null || b === null) return compare(a, b);  // blanks last either way
      return dir * compare(a, b);
    });
    rows.forEach(function (r) { body.appendChild(r); });
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
  document.body.setAttribute("data-ready", "yes");
})();
"""
