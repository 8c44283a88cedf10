"""The README says every benchmark explains itself with ``--help``: each one does, without
running anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.parametrize("script", sorted(p.name for p in [*BENCH.glob("bench_*.py"),
                                                          BENCH / "scale.py",
                                                          BENCH / "sql_count.py",
                                                          BENCH / "list_cost.py",
                                                          BENCH / "admission_sim.py"]))
def test_every_benchmark_answers_help(script: str) -> None:
    done = subprocess.run([sys.executable, str(BENCH / script), "--help"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("usage:"), done.stdout[:200]
