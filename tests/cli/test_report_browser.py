"""report.html in a real browser: headless Chromium, driven by Playwright, loads it from disk.

Checked as a user sees it: no console error and no network request, the table sorts, filters and
fits a 1,400 px window, and the plots answer the controls (selecting runs, grouping, smoothing,
log scale), keeping the choices across reloads. Chromium comes from the Debian package
`chromium`; where it is missing the fixture installs it with apt-get when running as root, and
otherwise skips saying why.
"""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import sync_playwright

from helpers.runs import make_sweep
from helpers.system import ensure_debian_packages
from seqlab.reporting import build_report

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CURVE_NAMES = "document.getElementById('curves-plot').data.map(t => t.name || null)"


def _find() -> str | None:
    return next((path for name in NAMES if (path := shutil.which(name))), None)


@pytest.fixture(scope="module")
def chromium() -> str:
    """Path of a Chromium binary, installed with apt-get if missing and allowed."""
    if not _find():
        ensure_debian_packages("headless Chromium", ["chromium"], ["chromium"])
    return _find()


@pytest.fixture
def browser_page(chromium):
    """A 1,400 × 900 page that records every request, console error and uncaught exception."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.requests, page.errors = [], []
        page.on("request", lambda r: page.requests.append(r.url))
        page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        yield page
        browser.close()


def _open(page, path) -> None:
    page.goto(path.as_uri())
    page.wait_for_function("document.body.dataset.plots", timeout=60_000)
    assert page.evaluate("document.body.dataset.plots") == "ready"


def _column(page, name: str) -> str:
    """Click the header `name` and return the run ids in their new order."""
    page.locator("#leaderboard thead th", has_text=name).first.click()
    return ",".join(page.locator("#leaderboard tbody tr td:nth-child(2)").all_inner_texts())


def test_report_loads_offline_without_errors_and_its_table_works(browser_page, tmp_path):
    page, sweep = browser_page, make_sweep(tmp_path / "outputs")
    report = build_report(sweep)
    _open(page, report)
    assert page.requests == [report.as_uri()]  # Plotly and the data come from the page itself
    assert page.errors == []
    assert page.evaluate("document.body.dataset.ready") == "yes"
    assert _column(page, "run") == "0,1,2,3" and _column(page, "run") == "3,2,1,0"
    _column(page, "test/loss")
    assert _column(page, "test/loss") == "1,0,2,3"  # descending, blank (failed run) still last
    width = page.evaluate("[document.querySelector('.scroll').scrollWidth, innerWidth]")
    assert width[0] <= width[1], f"the leaderboard is {width[0]} px wide in a {width[1]} px window"
    val_loss = page.locator("#leaderboard thead th", has_text="val/loss")
    assert val_loss.is_hidden()  # last validation values start folded: "best" holds the best
    page.click("#leaderboard-columns summary")
    page.locator("#leaderboard-columns label", has_text="val/loss").locator("input").check()
    assert val_loss.is_visible()
    page.fill("#leaderboard-filter", "transformer")
    assert page.locator("#leaderboard tbody tr:visible").count() == 2
    assert page.inner_text("#leaderboard-count") == "2 of 4 runs"
    parcoords = page.evaluate("document.getElementById('sweep-parcoords').data[0]")
    assert parcoords["type"] == "parcoords"
    assert [d["label"] for d in parcoords["dimensions"]] == [
        "model",
        "optimizer.lr",
        "best val/loss",
    ]
    assert page.locator("#sweep-keys .js-plotly-plot").count() == 2
    assert page.errors == []


def test_plot_controls_change_the_traces_and_survive_a_reload(browser_page, tmp_path):
    page, sweep = browser_page, make_sweep(tmp_path / "outputs")
    report = build_report(sweep)
    _open(page, report)
    names = page.evaluate(CURVE_NAMES)
    assert len(names) == 4 and names[1] == "model=gru_seq2seq optimizer.lr=0.0003"
    page.locator("#run-picker input[value='1']").uncheck()  # deselect run 1
    assert page.evaluate(CURVE_NAMES) == [names[0], names[2], names[3]]
    assert "unplotted" in page.get_attribute("#leaderboard tr[data-run='1']", "class")
    page.locator("#leaderboard tr[data-run='1']").click()  # a table row brings it back
    assert page.evaluate(CURVE_NAMES) == names
    raw = page.evaluate("document.getElementById('curves-plot').data[0].y")
    page.locator("#curve-smooth").fill("0.5")
    smoothed = page.evaluate("document.getElementById('curves-plot').data[0].y")
    assert smoothed[0] == raw[0] and smoothed[1] == pytest.approx((raw[0] + raw[1]) / 2)
    page.check("#curve-logy")
    assert page.evaluate("document.getElementById('curves-plot').layout.yaxis.type") == "log"
    page.select_option("#curve-group", "model")
    grouped = [n for n in page.evaluate(CURVE_NAMES) if n]
    assert grouped == ["model=gru_seq2seq (2 runs)", "model=transformer_seq2seq (2 runs)"]
    page.select_option("#curve-metric", "train/loss")
    page.locator("#run-picker input[value='3']").uncheck()
    page.reload()
    page.wait_for_function("document.body.dataset.plots === 'ready'", timeout=60_000)
    assert page.input_value("#curve-metric") == "train/loss"
    assert page.input_value("#curve-group") == "model" and page.is_checked("#curve-logy")
    assert [n for n in page.evaluate(CURVE_NAMES) if n][-1] == "model=transformer_seq2seq (1 runs)"
    assert page.errors == []


def test_a_watched_page_reloads_itself_with_new_runs(browser_page, tmp_path):
    page, sweep = browser_page, make_sweep(tmp_path / "outputs")
    shutil.rmtree(sweep / "3")
    report = build_report(sweep, refresh_s=0.5)
    _open(page, report)
    assert len(page.evaluate(CURVE_NAMES)) == 3 and page.locator(".live").is_visible()
    make_sweep(tmp_path / "again")  # job 3 finishes meanwhile
    shutil.copytree(tmp_path / "again" / sweep.relative_to(tmp_path / "outputs") / "3", sweep / "3")
    build_report(sweep, refresh_s=0.5)
    page.wait_for_function(
        "(document.getElementById('curves-plot').data || []).length === 4",
        timeout=60_000,
        polling=200,
    )
    assert page.errors == []
