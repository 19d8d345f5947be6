"""seqlab-report on hand-written run folders: summary rows, report.html, plots, rebuilds, errors.

The folders are written file by file exactly as seqlab-train leaves them (no training), so these
tests take a second or two (tests/helpers/runs.py writes them).
"""

from __future__ import annotations

import csv
import json
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from helpers.polling import wait_for
from helpers.runs import OOM, make_sweep, write_run
from seqlab.errors import SeqlabError
from seqlab.reporting import build_report, write_summary
from seqlab.reporting.page_data import MAX_POINTS
from seqlab.reporting.watch import watch


def page_json(page: str) -> dict:
    """The data report.html's script draws from."""
    found = re.search(
        r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S
    )
    assert found, "report.html carries no data"
    return json.loads(found.group(1))


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_summary_has_one_row_per_run_ranked_with_failure(tmp_path):
    sweep = make_sweep(tmp_path)
    rows = write_summary(sweep)
    assert len(rows) == 4
    assert [r["path"] for r in rows] == ["2", "0", "1", "3"]  # best val/loss first, failed last
    assert rows[0]["best"] == 0.6 and rows[0]["best_step"] == 29
    assert rows[0]["test/loss"] == pytest.approx(0.65)
    failed = rows[-1]
    assert failed["status"] == "failed" and failed["error"] == OOM
    assert rows[0]["model"] == "transformer_seq2seq" and rows[0]["optimizer.lr"] == "0.001"
    assert "trainer.max_epochs" not in rows[0]  # not swept, but kept in the overrides column
    assert "trainer.max_epochs=3" in rows[0]["overrides"]
    assert rows[0]["checkpoint"].endswith("2/checkpoints/best.ckpt")
    table = read_csv(sweep / "summary.csv")
    assert len(table) == 4 and table[3]["error"] == OOM
    md = (sweep / "summary.md").read_text()
    assert f"failed: {OOM} |" in md and "Traceback" not in md
    assert "swept: `model`, `optimizer.lr`" in md
    assert len([ln for ln in md.splitlines() if ln.startswith("| ") and "---" not in ln]) == 5


def test_metric_and_mode_options_rerank(tmp_path):
    sweep = make_sweep(tmp_path)
    rows = write_summary(sweep, optimized_metric="val/exact_match", mode="max")
    assert rows[0]["optimized"] == "val/exact_match" and rows[0]["mode"] == "max"
    assert rows[0]["path"] == "2" and rows[0]["best"] == pytest.approx(0.85)
    with pytest.raises(SeqlabError, match="choose min or max"):
        write_summary(sweep, mode="lowest")


def test_report_html_and_plots(tmp_path):
    sweep = make_sweep(tmp_path)
    page = build_report(sweep).read_text()
    pngs = sorted(p.name for p in (sweep / "plots").glob("*.png"))
    assert pngs == [
        "curve_lr-AdamW.png",
        "curve_train_loss.png",
        "curve_val_exact_match.png",
        "curve_val_loss.png",
        "sweep_model.png",
        "sweep_optimizer.lr.png",
    ]
    for name in pngs:
        assert (sweep / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert '<table id="leaderboard" class="sortable">' in page
    assert page.count("<tbody>") >= 1 and page.count('<tr class="') == 4
    for name in pngs:  # PNGs for papers are linked; the page plots its embedded data
        assert f'href="plots/{name}"' in page
    assert "data:image/png" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched from afar
    data = page_json(page)
    assert [r["id"] for r in data["runs"]] == ["0", "1", "2", "3"]
    assert data["swept"] == ["model", "optimizer.lr"] and data["numeric"]["optimizer.lr"]
    assert data["runs"][2]["series"]["val/loss"] == {"x": [9, 19, 29], "y": [1.8, 0.9, 0.6]}
    assert data["runs"][2]["score"] == 0.6 and data["runs"][3]["score"] is None  # failed run
    assert data["default_metric"] == "val/loss" and data["refresh_s"] is None
    assert OOM in page and "Traceback" not in page
    assert "jump &lt;b&gt;0&lt;/b&gt;" in page and "<b>0</b>" not in page  # escaped samples
    assert "I_WALK s19" in page and "I_WALK s9<" not in page  # last step only
    assert "/repo/src/seqlab/train.py model=gru_seq2seq" in page  # provenance: command
    assert "0123456789abcdef" in page and "dirty" in page  # provenance: commit


def test_rebuild_is_idempotent_and_drops_stale_plots(tmp_path):
    sweep = make_sweep(tmp_path)
    build_report(sweep)
    first = {p.name: p.read_bytes() for p in sweep.rglob("*") if p.is_file()}
    (sweep / "plots" / "curve_gone.png").write_bytes(b"old")
    build_report(sweep)
    second = {p.name: p.read_bytes() for p in sweep.rglob("*") if p.is_file()}
    assert "curve_gone.png" not in second
    for name in ("summary.csv", "summary.md", "report.html"):
        assert first[name] == second[name], name


def test_folder_of_single_runs(tmp_path):
    runs = tmp_path / "outputs" / "runs"
    write_run(runs / "scan_gru" / "2026-01-01_00-00-00_aaaaaa", {"size": "tiny"}, [1.0, 0.5])
    write_run(runs / "scan_gru" / "2026-01-02_00-00-00_bbbbbb", {}, [1.0, 0.7], samples=False)
    write_run(runs / "scan_gpt" / "2026-01-03_00-00-00_cccccc", {"model": "gpt"}, [3.0], None)
    rows = write_summary(runs)
    assert [r["status"] for r in rows] == ["ok", "ok", "unknown"]
    assert rows[-1]["error"] == "no results.json"
    assert rows[0]["path"] == "scan_gru/2026-01-01_00-00-00_aaaaaa"
    assert rows[0]["size"] == "tiny" and rows[1]["size"] == "" and rows[2]["model"] == "gpt"
    page = build_report(runs).read_text()
    assert page.count('<tr class="') == 3 and "no results.json" in page


def test_a_folder_of_links_compares_runs_of_several_sweeps(tmp_path):
    runs = tmp_path / "outputs" / "runs"
    write_run(runs / "scan_gru" / "2026-01-01_00-00-00_aaaaaa", {"size": "tiny"}, [1.0, 0.5])
    write_run(runs / "scan_gpt" / "2026-01-03_00-00-00_cccccc", {"model": "gpt"}, [3.0, 2.0])
    pick = tmp_path / "compare"
    pick.mkdir()
    (pick / "gru").symlink_to(runs / "scan_gru" / "2026-01-01_00-00-00_aaaaaa")
    (pick / "gpt").symlink_to(runs / "scan_gpt" / "2026-01-03_00-00-00_cccccc")
    (pick / "gru_again").symlink_to(runs / "scan_gru" / "2026-01-01_00-00-00_aaaaaa")
    (pick / "loop").symlink_to(pick)  # a cycle must not hang the search
    rows = write_summary(pick)
    assert sorted(r["path"] for r in rows) == ["gpt", "gru"]


def test_folder_without_runs_is_a_one_line_error(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(SeqlabError) as err:
        write_summary(tmp_path / "empty")
    assert "no run folders" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(SeqlabError, match="does not exist"):
        build_report(tmp_path / "missing")


def test_cli(tmp_path):
    sweep = make_sweep(tmp_path)
    run = [sys.executable, "-m", "seqlab.report"]
    ok = subprocess.run([*run, str(sweep)], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert (sweep / "report.html").is_file() and "report.html" in ok.stdout
    bad = subprocess.run([*run, str(tmp_path / "nothing")], capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.startswith("seqlab: error: ") and bad.stderr.count("\n") == 1


def test_resumed_run_uses_its_latest_overrides(tmp_path):
    run = write_run(tmp_path / "runs" / "a" / "stamp", {"trainer.max_epochs": "1"}, [1.0, 0.8])
    with (run / "overrides.txt").open("a") as f:
        f.write("# resumed 2026-01-02T00:00:00+0000\ntrainer.max_epochs=2\n")
    info = json.loads((run / "run.json").read_text())
    info["resumed"] = [{"at": "2026-01-02T00:00:00+0000", "command": ["train.py", "resume=x"]}]
    (run / "run.json").write_text(json.dumps(info))
    [row] = write_summary(tmp_path / "runs")
    assert row["overrides"] == "trainer.max_epochs=2"
    assert "train.py resume=x" in build_report(tmp_path / "runs").read_text()


def test_page_data_cannot_close_its_script_element(tmp_path):
    hostile = "</script><script>alert(1)</script><!--"
    write_run(tmp_path / "runs" / "a", {"data.name": hostile}, [1.0, 0.8])
    write_run(tmp_path / "runs" / "b", {"data.name": "plain"}, [1.0, 0.7])
    page = build_report(tmp_path / "runs").read_text()
    assert "<script>alert(1)" not in page
    assert page_json(page)["runs"][0]["params"]["data.name"] == hostile  # intact once parsed


def test_a_50_run_sweep_with_long_curves_stays_a_few_mb(tmp_path):
    sweep = tmp_path / "sweep"
    curve = [3.0 * 0.999**i + 0.01 * (i % 7) for i in range(3000)]
    for job in range(50):
        write_run(
            sweep / str(job), {"optimizer.lr": f"{1e-4 * (job + 1):.4g}"}, curve, samples=False
        )
    page = build_report(sweep)
    size = page.stat().st_size
    assert size < 4_000_000, f"report.html is {size / 1e6:.1f} MB"
    data = page_json(page.read_text())
    val = data["runs"][0]["series"]["val/loss"]
    assert len(val["x"]) == MAX_POINTS and val["x"][0] == 9 and val["x"][-1] == 29999  # ends kept
    assert val["y"][-1] == pytest.approx(curve[-1], rel=1e-4)


def test_watch_rebuilds_while_runs_arrive_and_ends_with_a_plain_page(tmp_path):
    folder = tmp_path / "sweep"  # does not exist yet: the sweep has not started
    said: list[str] = []
    stop = threading.Event()
    watcher = threading.Thread(
        target=watch, args=(folder, 0.05), kwargs={"stop": stop, "say": said.append}
    )
    watcher.start()
    try:
        page = folder / "report.html"
        wait_for(lambda: said, "the waiting line")
        write_run(folder / "0", {"seed": "1"}, [1.0, 0.9])
        wait_for(lambda: page.is_file() and len(page_json(page.read_text())["runs"]) == 1, "run 0")
        assert page_json(page.read_text())["refresh_s"] == 0.05  # the live page reloads itself
        write_run(folder / "1", {"seed": "2"}, [1.0, 0.8])
        wait_for(lambda: len(page_json(page.read_text())["runs"]) == 2, "run 1")
        with (folder / "1" / "metrics.csv").open("a") as f:  # a run still training
            f.write("5,59,,,,0.5,\n")
        wait_for(
            lambda: 59 in page_json(page.read_text())["runs"][1]["series"]["val/loss"]["x"],
            "step 59",
        )
    finally:
        stop.set()
        watcher.join(timeout=60)
    assert not watcher.is_alive()
    assert said[0].startswith("waiting for run folders under") and "(2 runs)" in said[-1]
    assert page_json(page.read_text())["refresh_s"] is None  # final page: no reloading


def test_watch_cli_stops_on_ctrl_c_with_the_final_page(tmp_path):
    sweep = make_sweep(tmp_path)
    cmd = [sys.executable, "-m", "seqlab.report", str(sweep), "--watch", "--interval", "0.2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("report: ") and "(4 runs)" in first
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert out.strip() == f"report: {sweep / 'report.html'}"
    assert page_json((sweep / "report.html").read_text())["refresh_s"] is None


@pytest.mark.parametrize("args", [["--interval", "0"], ["--interval", "nan"], ["--summary-only"]])
def test_watch_options_are_checked(tmp_path, args):
    cmd = [sys.executable, "-m", "seqlab.report", str(tmp_path), "--watch", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
