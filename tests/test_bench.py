"""`make bench --quick`: every figure the README promises is measured and plausible (no timings asserted);
a bench that fails names its phase and leaves nothing running."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ("case_vs_bare_events", "case_vs_bare_wall", "deadline_lateness_p99_s", "deadline_burst_p99_s",
           "open_at_rate_s", "open_cases_rss_mib_per_10k", "intake_vs_raw", "drill_30day_s", "replay_60day_s",
           "metrics_month_vs_count_cases", "metrics_month_by_severity_s", "prometheus_scrape_s", "update_vs_noop")
STACK = "file-backed dev server, as `crisis dev` starts it"


def test_quick_bench_measures_every_figure(tmp_path):
    out = tmp_path / "bench-results.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)], capture_output=True,
                          text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(out.read_text())["failed"] == []
    results = json.loads(out.read_text())["results"]
    assert set(FIGURES) <= set(results), sorted(results)
    assert all(results[f]["value"] is not None and results[f]["server"] for f in FIGURES)
    events = results["case_vs_bare_events"]
    assert events["value"] == sum(events["case_by_type"].values()) and events["baseline"] > 0
    for figure in ("deadline_lateness_p99_s", "deadline_burst_p99_s"):
        assert results[figure]["breached"] == results[figure]["cases"] and results[figure]["server"] == STACK
    burst = results["deadline_burst_p99_s"]
    assert burst["opened_before_due"] == burst["cases"] and burst["history_per_breach"]["bare_events"] > 0
    assert results["intake_vs_raw"]["server"] == STACK and "HTTP" in results["intake_vs_raw"]["transport"]
    for figure in ("case_vs_bare_events", "deadline_lateness_p99_s", "deadline_burst_p99_s", "open_at_rate_s",
                   "drill_30day_s", "prometheus_scrape_s"):
        assert results[figure]["baseline"] > 0, figure  # each beside a baseline measured in the same run
    assert "cases opened" in done.stderr and "| `intake_vs_raw` |" in done.stdout  # progress, then the table
    assert f"| {STACK} |" in done.stdout  # the table says which server


def running_with(marker: str) -> list[str]:
    """Processes whose command line or environment names `marker`."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            text = (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in text and int(proc.name) != os.getpid():
            found.append(f"{proc.name}: {(proc / 'cmdline').read_bytes().replace(bytes(1), b' ')[:200]!r}")
    return found


def test_a_failing_bench_names_its_phase_and_leaves_nothing_running(tmp_path):
    """A worker that cannot start (an invalid setting) fails the stack's start: the bench says so, with
    the worker's own last lines, and the server, PostgreSQL and the API it had started are gone."""
    env = {**os.environ, "TMPDIR": str(tmp_path), "CRISIS_WORKER_WORKFLOW_POLLERS": "0"}
    out = tmp_path / "bench-results.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--phases", "burst", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "bench failed in phase stack start:" in done.stderr, done.stderr[-2000:]
    assert "CRISIS_WORKER_WORKFLOW_POLLERS" in done.stderr  # why, from the worker's log
    failed = json.loads(out.read_text())["failed"]  # what ran is kept, what failed is named
    assert [f["phase"] for f in failed] == ["stack start"] and "worker exited with code 1" in failed[0]["reason"]
    assert running_with(str(tmp_path)) == []
