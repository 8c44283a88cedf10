"""The consent page for a credential that can only go whole (``ldp_vc``): every claim it holds
leaves, so every one is listed as a disclosed claim with its value, not only those asked for."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient

from tests.holder_api.present_support import Peer
from tests.holder_api.web_support import signed_up
from tests.support.apps import AppFactory, ShiftedClock
from tests.support.vectors import VECTORS

#: the Open Badges 3.0 sample, inside its validity window (vectors README)
BADGE = VECTORS / "microcredentials" / "1edtech" / "ob30" / "simple-did-key-method.json"
BADGE_TIME = datetime(2025, 1, 1, tzinfo=UTC)
ASKED = ["credentialSubject", "achievement", "name"]
CLIENT_ID = "x509_san_dns:localhost"


@pytest.fixture
async def badge_app(make_client: AppFactory, ca_file: Path, peer: Peer) -> TestClient[Any, Any]:
    clock = ShiftedClock(BADGE_TIME)
    peer.run_on(clock)
    return await make_client(clock=clock, SATCHEL_FETCH_ALLOW_HOSTS="localhost",  # type: ignore[no-any-return]
                             SATCHEL_EXTRA_CA_FILE=str(ca_file))


async def test_whole_credential_lists_every_claim_that_leaves(
        badge_app: TestClient[Any, Any], peer: Peer) -> None:
    b, _ = await signed_up(badge_app)
    try:
        await b.get("/credentials/import")
        page = await b.post("/credentials/import", {"raw": BADGE.read_text()})
        assert "notice=imported" in page.url, page.html
        query = {"credentials": [{
            "id": "badge", "format": "ldp_vc",
            "meta": {"type_values": [["VerifiableCredential", "AchievementCredential"]]},
            "require_cryptographic_holder_binding": False,
            "claims": [{"path": ASKED, "values": ["test 1"]}]}]}
        link = peer.serve_request(lambda _f: peer.sign(peer.claims(CLIENT_ID, query)),
                                  client_id=CLIENT_ID)
        page = await b.post("/open", {"link": link})
        assert "/requests/" in urlsplit(page.url).path, page.html
        paths = [json.loads(p) for p in page.attrs("disclosed-claim", "data-path")]
        assert ASKED in paths  # what was asked
        assert len(paths) > 3  # and everything else that goes with it
        assert "The whole credential is sent" in page
        assert not page.attrs("always-sent-claim", "data-path")
    finally:
        await b.close()
