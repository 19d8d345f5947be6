"""seqlab-plan run as a user runs it: seqlab-train's overrides in, a plan out, no run folder."""

import re

PEAK = "++plan.peak_flops=1e11"  # `++`: works whether or not train.yaml lists the plan group


def lines(stdout: str) -> dict[str, str]:
    """'  memory / device  peak ...' -> {'memory / device': 'peak ...'}."""
    rows = (re.match(r"  (\S.*?)\s{2,}(\S.*)", line) for line in stdout.splitlines())
    return {m[1]: m[2] for m in rows if m}


def test_plan_of_the_gpt_experiment(run_cli, tmp_path):
    out = run_cli("plan", "experiment=shakespeare_gpt", PEAK).stdout
    assert out.startswith(
        "seqlab-plan: shakespeare_gpt (GPT) on 1 cpu device, single, precision 32-true"
    )
    plan = lines(out)
    assert re.fullmatch(r"8\d\dK: \S+ embedding, 7\d\dK non-embedding", plan["parameters"])
    assert plan["batch / device"].startswith("12.0 sequences x 64.0 tokens (mean), 768 target")
    assert re.match(r"train [\d.]+ MFLOP/token, [\d.]+ GFLOP/step; generate", plan["FLOPs"])
    assert plan["memory / device"].startswith("peak ")
    assert plan["steps"] == "1,307 per epoch, 2,000 in total"
    assert plan["time"].endswith("in total at 40% of 100 GFLOP/s (config)")
    assert not (tmp_path / "outputs").exists()  # a plan trains nothing and leaves no run folder


def test_plan_of_a_data_parallel_translation_run(run_cli):
    out = run_cli("plan", "experiment=multi30k_transformer", "trainer=ddp_cpu", PEAK).stdout
    assert "(TransformerSeq2Seq) on 2 cpu devices, ddp" in out
    plan = lines(out)
    assert "DDP buckets" in plan["memory / device"]
    assert re.match(r"29,000 pairs, \S+ train tokens \((files|cache)\)", plan["data"])


def test_plan_settings_are_validated(run_cli):
    proc = run_cli("plan", "++plan.peak_flop=1e11", expect=2)
    assert "unknown config key 'plan.peak_flop'" in proc.stderr


def test_a_sweep_of_plans(run_cli, tmp_path):
    out = run_cli("plan", "-m", "size=tiny,small", PEAK).stdout
    assert out.count("seqlab-plan: scan_") == 2
    assert not (tmp_path / "outputs").exists()
