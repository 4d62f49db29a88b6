"""scripts/benchmark.py runs end to end at a tiny scale and its three tier computations agree.

Why: the benchmark is not part of CI (speed is measured, not asserted), but it must not
rot: this runs it on 40 customers for three weeks with the baselines, which checks the
hand-written DuckDB query and the pandas loop against marts.customer_tier_history.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "benchmark.py"


def load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmark", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_benchmark_runs_and_agrees(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    benchmark = load_benchmark()
    argv = ["--customers", "40", "--lines-per-day", "30", "--years", "0.06", "--baseline"]
    assert benchmark.main([*argv, "--workdir", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    for step in ("generate", "backfill 2024-01-01..2024-01-22", "daily run 2024-01-23"):
        assert step in out
    assert "baseline: one DuckDB query, 22 as-of dates" in out
    assert "baseline: pandas loop, 22 as-of dates" in out
    assert "agree on every ABC tier checked" in err
    assert len(list((tmp_path / "landing" / "sales_lines").glob("*.parquet"))) == 23


def test_tree_rss_counts_children() -> None:
    """The memory figure sums this process and its children (dbt runs as a child)."""
    benchmark = load_benchmark()
    alone = benchmark._tree_rss_kb(os.getpid())
    hold = "import sys, time; b = b'x' * (200 << 20); print(flush=True); time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        child.stdout.readline()  # the child now holds 200 MB
        assert benchmark._tree_rss_kb(os.getpid()) > alone + 150_000
    finally:
        child.kill()
        child.wait()
