"""The consent page for a credential that can only go whole (``ldp_vc``): every claim it holds
leaves, so every one is listed as a disclosed claim with its value, not only those asked for."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from aiohttp.test_utils import TestClient

from tests.holder_api.present_support import Peer, ca_fixture, peer_fixture  # noqa: F401
from tests.holder_api.test_present_ldp import (  # noqa: F401 - fixtures
    CLIENT_ID,
    NAME_PATH,
    OB,
    app,
    ldp_query,
)
from tests.holder_api.web_support import signed_up


async def test_whole_credential_lists_every_claim_that_leaves(app: TestClient[Any, Any],  # noqa: F811
                                                              peer: Peer) -> None:
    b, _ = await signed_up(app)
    try:
        await b.get("/credentials/import")
        page = await b.post("/credentials/import", {"raw": OB.read_text()})
        assert "notice=imported" in page.url, page.html
        cid = urlsplit(page.url).path.rsplit("/", 1)[1]
        detail = await b.get(f"/credentials/{cid}")
        assert detail.status == 200
        query = ldp_query([["VerifiableCredential", "AchievementCredential"]],
                          values=["test 1"])
        link = peer.serve_request(lambda _f: peer.sign(peer.claims(CLIENT_ID, query)),
                                  client_id=CLIENT_ID)
        page = await b.post("/open", {"link": link})
        assert "/requests/" in page.url, page.html
        paths = [json.loads(p) for p in page.attrs("disclosed-claim", "data-path")]
        assert NAME_PATH in paths  # what was asked
        assert len(paths) > 3  # and everything else that goes with it
        assert "The whole credential is sent" in page
        assert not page.attrs("always-sent-claim", "data-path")
    finally:
        await b.close()
