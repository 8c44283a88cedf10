"""Where the test vectors are (tests/vectors; their sources in tests/vectors/SOURCES.tsv)."""

from __future__ import annotations

from pathlib import Path

VECTORS = Path(__file__).parents[1] / "vectors"
