"""Portfolio items stored at import give exactly the portfolio that mapping again would give."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from tests.support.vectors import VECTORS
from wallet.microcred import PortfolioItem, build_portfolio, portfolio_items

SAMPLES = ["elm/Sample-MC-Annex1-unsigned.jsonld", "1edtech/clr20/simple.json",
           "1edtech/ob30/complete.json", "mynextid/open-badge-mc-example.json",
           "ebsi/vcdm2.0-europass-edc-schema/examples/Microcredential-Data-and-software-business.json"]


def test_records_round_trip_to_the_same_portfolio() -> None:
    fresh, stored = [], []
    for i, name in enumerate(SAMPLES):
        doc = json.loads((VECTORS / "microcredentials" / name).read_text(encoding="utf-8"))
        items = portfolio_items(f"c{i}", doc, format="ldp_vc", languages=("en",))
        fresh += items
        stored += [PortfolioItem.from_record(json.loads(json.dumps(it.to_record())))
                   for it in items]
    assert stored == fresh
    a, b = asdict(build_portfolio(fresh)), asdict(build_portfolio(stored))
    assert a == b and a["total_ects"] > 0 and len(a["credentials"]) >= len(SAMPLES)


def test_a_stored_stack_row_of_unknown_role_is_refused() -> None:
    """A record is read back only when each ``[key, title, role]`` has a role Satchel writes;
    otherwise ``from_record`` raises and the portfolio maps the credential again."""
    doc = json.loads((VECTORS / "microcredentials" / SAMPLES[1]).read_text(encoding="utf-8"))
    record = next(it.to_record() for it in portfolio_items("c", doc, format="ldp_vc",
                                                             languages=("en",)) if it.stacks)
    assert PortfolioItem.from_record(record).stacks  # the row as written reads back
    for row in (["k", "t", "sibling"], ["k", "t", None], ["k", "t"]):
        with pytest.raises(ValueError):
            PortfolioItem.from_record({**record, "stacks": [row]})
