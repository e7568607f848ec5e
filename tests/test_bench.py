"""`make bench --quick`: every figure the README promises is measured and plausible (no timings asserted)."""

import json
import subprocess
import sys
from pathlib import Path

FIGURES = ("case_vs_bare_events", "case_vs_bare_wall", "deadline_lateness_p99_s", "open_at_rate_s",
           "open_cases_rss_mib_per_10k", "intake_vs_raw", "drill_30day_s", "replay_60day_s",
           "metrics_month_vs_count_cases", "update_vs_noop")


def test_quick_bench_measures_every_figure(tmp_path):
    out = tmp_path / "bench-results.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[1], timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())["results"]
    assert set(FIGURES) <= set(results), sorted(results)
    assert all(results[f]["value"] is not None for f in FIGURES)
    events = results["case_vs_bare_events"]
    assert events["value"] == sum(events["case_by_type"].values()) and events["baseline"] > 0
    assert results["deadline_lateness_p99_s"]["breached"] == results["deadline_lateness_p99_s"]["cases"]
    for figure in ("case_vs_bare_events", "deadline_lateness_p99_s", "open_at_rate_s", "drill_30day_s"):
        assert results[figure]["baseline"] > 0, figure  # each beside a baseline measured in the same run
    assert "cases opened" in done.stderr and "| `intake_vs_raw` |" in done.stdout  # progress, then the table
