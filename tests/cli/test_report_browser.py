"""report.html in a real browser: headless Chromium renders it, runs its script, logs no errors.

Chromium comes from the Debian package `chromium`; where it is missing the test installs it
with apt-get when running as root, and otherwise skips saying why. No Python browser driver:
`--dump-dom` returns the DOM after scripts ran, and `--enable-logging=stderr` prints every
console message (errors and uncaught exceptions included) as a `CONSOLE` line on stderr.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from helpers.runs import make_sweep
from seqlab.reporting import build_report

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=5000",  # let the load event and image decoding finish before the dump
)

# Appended to a copy of the page: after load, record what a user would see into <body> attributes
# (decoded images, row order after clicking headers) and log one marker line, which proves the
# console capture works (a check for "no console errors" must not pass just by seeing nothing).
PROBE = """<script>
window.addEventListener("load", function () {
  var ok = Array.prototype.filter.call(document.images, function (i) {
    return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute("data-images-ok", String(ok.length));
  var heads = Array.prototype.slice.call(document.querySelectorAll("#leaderboard thead th"));
  function order(name, clicks) {
    var col = heads.findIndex(function (th) { return th.textContent.trim() === name; });
    for (var i = 0; i < clicks; i++) heads[col].click();
    return Array.prototype.map.call(document.querySelectorAll("#leaderboard tbody tr"),
      function (tr) { return tr.cells[1].textContent.trim(); }).join(",");
  }
  document.body.setAttribute("data-run-asc", order("run", 1));
  document.body.setAttribute("data-run-desc", order("run", 1));
  document.body.setAttribute("data-test-loss-desc", order("test/loss", 2));
  console.log("seqlab-probe-done");
});
</script></body>"""


def _find() -> str | None:
    return next((path for name in NAMES if (path := shutil.which(name))), None)


@pytest.fixture(scope="module")
def chromium() -> str:
    """Path of a Chromium binary, installed with apt-get if missing and allowed."""
    found = _find()
    if found:
        return found
    if not shutil.which("apt-get") or not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("headless Chromium is not installed and can't be here (needs root + apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200)
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"could not install Chromium ({' '.join(cmd)}: {tail})")
    return _find() or pytest.skip("apt-get installed chromium but no chromium binary was found")


def test_report_renders_without_console_errors(chromium, tmp_path):
    sweep = make_sweep(tmp_path / "outputs")
    page = build_report(sweep).read_text(encoding="utf-8")
    pngs = len(list((sweep / "plots").glob("*.png")))
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", PROBE, 1), encoding="utf-8")
    cmd = [chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom"]
    proc = subprocess.run([*cmd, probe.as_uri()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    assert any("seqlab-probe-done" in line for line in console), proc.stderr[-2000:]
    errors = [line for line in console if "seqlab-probe-done" not in line]
    assert not errors, errors  # the page itself logs nothing: any message is an error
    dom = proc.stdout
    assert 'data-ready="yes"' in dom  # the page's own script ran to its end
    assert re.search(r'<table id="leaderboard" class="sortable">', dom)
    assert f'data-images-ok="{pngs}"' in dom and pngs == 6  # every plot decoded
    assert 'data-run-asc="0,1,2,3"' in dom and 'data-run-desc="3,2,1,0"' in dom
    assert 'data-test-loss-desc="1,0,2,3"' in dom  # descending, blank (failed run) still last
    assert 'class="desc">test/loss</th>' in dom
