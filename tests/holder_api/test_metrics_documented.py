"""Every metric family a replica exposes at ``/metrics`` has its row in the table under
``## Metrics`` in docs/operations.md, with its type and labels, and the table names no family
that does not exist (as tests/holder_api/test_settings_declared.py holds the README's settings
table to the declared settings).

The families are read from a scrape of a started app, not from the code: a metric added in any
module, by ``Gauge(...)`` or by a custom collector, shows up here. The app runs with the adaptive
in-flight limit on, so the two families that exist only with it are exposed too."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.support.apps import AppFactory

DOC = Path(__file__).parents[2] / "docs" / "operations.md"
_TYPE = re.compile(r"^# TYPE (satchel_\w+) (\w+)$", re.MULTILINE)
_SAMPLE = re.compile(r"^(satchel_\w+?)(?:\{(.*)\})? \S+$", re.MULTILINE)
_LABEL = re.compile(r'(\w+)="')


def table_rows(text: str) -> dict[str, tuple[str, frozenset[str]]]:
    """metric name -> (type, label names), from the table under ``## Metrics``."""
    section = text.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[str, frozenset[str]]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`satchel_"):
            continue
        name = cells[0].strip("`")
        assert name not in rows, f"{name} has two rows"
        rows[name] = (cells[1], frozenset(re.findall(r"`(\w+)`", cells[2])))
    return rows


def exposed(text: str) -> dict[str, tuple[str, frozenset[str]]]:
    """family name -> (type, label names) from a scrape's text. The ``*_created`` gauges
    prometheus_client adds beside a counter or histogram are a part of that family, not one of
    their own; a histogram's ``le`` is no label of the family."""
    types = dict(_TYPE.findall(text))
    for name in list(types):
        stem = name.removesuffix("_created")
        if stem != name and ({stem, stem + "_total"} & set(types)):
            del types[name]
    labels: dict[str, set[str]] = {name: set() for name in types}
    for sample, inner in _SAMPLE.findall(text):
        family = max((n for n in types if sample.startswith(n)), key=len, default=None)
        if family is not None:
            labels[family] |= set(_LABEL.findall(inner or "")) - {"le"}
    return {name: (kind, frozenset(labels[name])) for name, kind in types.items()}


async def _scrape(client: TestClient[Any, Any]) -> str:
    assert (await client.get("/healthz")).status == 200  # a request for the per-route series
    r = await client.get("/metrics")
    assert r.status == 200
    return await r.text()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_metrics_table_documents_every_family_and_no_other(
        make_client: AppFactory) -> None:
    client = await make_client(SATCHEL_ADAPTIVE_IN_FLIGHT="1")
    families = exposed(await _scrape(client))
    assert len(families) > 30  # the scrape saw every module's metrics
    rows = table_rows(DOC.read_text(encoding="utf-8"))
    assert sorted(set(families) - set(rows)) == [], "metrics missing from docs/operations.md"
    assert sorted(set(rows) - set(families)) == [], "rows for metrics that do not exist"
    assert {n: r for n, r in rows.items() if families[n] != r} == {}, "type or labels differ"


def test_the_table_reader_catches_a_missing_row_a_stale_one_and_a_wrong_label() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "| `satchel_http_requests_total` | counter | `method`, `route`, `status` |" in text
    rows = table_rows(text.replace("| `satchel_http_requests_total` | counter | `method`, `route`",
                                   "| `satchel_http_hits_total` | counter | `method`, `path`"))
    assert "satchel_http_requests_total" not in rows
    assert rows["satchel_http_hits_total"] == ("counter", {"method", "path", "status"})


def test_a_scrape_is_read_as_families() -> None:
    scrape = (
        "# TYPE satchel_x_total counter\nsatchel_x_total 3.0\n"
        "# TYPE satchel_x_created gauge\nsatchel_x_created 1.7e9\n"
        "# TYPE satchel_h_seconds histogram\n"
        'satchel_h_seconds_bucket{le="0.1",route="/a"} 1.0\nsatchel_h_seconds_count{route="/a"} 1\n'
        "# TYPE satchel_h_seconds_created gauge\nsatchel_h_seconds_created 1.7e9\n"
        "# TYPE satchel_busy_total gauge\n"
        'satchel_busy_total{kind="import"} 0.0\n')
    assert exposed(scrape) == {"satchel_x_total": ("counter", frozenset()),
                               "satchel_h_seconds": ("histogram", frozenset({"route"})),
                               "satchel_busy_total": ("gauge", frozenset({"kind"}))}
