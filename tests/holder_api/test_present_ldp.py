"""Presenting ``ldp_vc`` credentials over OpenID4VP 1.0 (DCQL), on both backends.

The credential is the 1EdTech Open Badges 3.0 sample signed with Data Integrity and a ``did:key``
(tests/vectors/microcredentials, imported at a pinned time as the import tests do). What reaches
the verifier is checked here *without* Satchel's verifier: pyld canonicalizes with the 1EdTech
validator's own copies of the contexts (not our bundled files), the hash is built as
``eddsa-rdfc-2022`` defines it, and PyNaCl checks the Ed25519 signature against the key decoded
here from the holder's ``did:jwk``.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from nacl.exceptions import BadSignatureError

from holder_api.appkeys import WIRING
from tests.holder_api.present_support import Peer, ledger_details
from tests.support.apps import AppFactory, ShiftedClock
from tests.support.http_api import assert_problem, auth, login, sign_up
from tests.support.vectors import VECTORS
from tests.wallet.di_support import check_vp, ed25519_from_did_jwk
from wallet.vault import StoredCredential

PIN = datetime(2025, 1, 1, tzinfo=UTC)  # inside the sample's validity window (vectors README)
OB = VECTORS / "microcredentials" / "1edtech" / "ob30" / "simple-did-key-method.json"
CLIENT_ID = "x509_san_dns:localhost"
NAME_PATH = ["credentialSubject", "achievement", "name"]


def ldp_query(type_values: list[list[str]], *, values: list[str] | None = None,
              binding: bool = False) -> dict[str, Any]:
    claim: dict[str, Any] = {"path": NAME_PATH}
    if values is not None:
        claim["values"] = values
    return {"credentials": [{"id": "badge", "format": "ldp_vc",
                             "meta": {"type_values": type_values},
                             "require_cryptographic_holder_binding": binding,
                             "claims": [claim]}]}


@pytest.fixture
async def app(make_client: AppFactory, ca_file: Path, peer: Peer) -> TestClient[Any, Any]:
    """Satchel trusting the test CA, allowed to reach the peers (``localhost``), on the sample's
    clock: the app and its peer live inside the sample's validity window."""
    clock = ShiftedClock(PIN)
    peer.run_on(clock)
    return await make_client(clock=clock, SATCHEL_FETCH_ALLOW_HOSTS="localhost",  # type: ignore[no-any-return]
                             SATCHEL_EXTRA_CA_FILE=str(ca_file))


async def learner(app: TestClient[Any, Any], name: str = "ada") -> str:
    await sign_up(app, name)
    return await login(app, name)


async def import_badge(app: TestClient[Any, Any], token: str) -> str:
    r = await app.post("/v1/credentials", json={"raw": OB.read_text()}, headers=auth(token))
    assert r.status == 201, await r.text()
    body = await r.json()
    assert body["format"] == "ldp_vc" and body["verification"]["signature"] == "valid"
    return str(body["id"])


async def ask(app: TestClient[Any, Any], token: str, peer: Peer,
              query: dict[str, Any]) -> dict[str, Any]:
    link = peer.serve_request(lambda f: peer.sign(peer.claims(CLIENT_ID, query)),
                              client_id=CLIENT_ID)
    r = await app.post("/v1/presentation-requests", json={"request": link}, headers=auth(token))
    assert r.status == 201, await r.text()
    return dict(await r.json())


async def store(app: TestClient[Any, Any], token: str, doc: dict[str, Any],
                holder_jwk: dict[str, Any] | None = None) -> str:
    """Put an ldp_vc record straight into the vault (shapes no public sample has)."""
    services = app.app[WIRING]
    session = await services.accounts.service.authenticate(token)
    cid = str(uuid.uuid4())
    await services.stores.vault.for_learner(session.learner_id, session.dek).credentials.put(
        StoredCredential(id=cid, format="ldp_vc", raw=json.dumps(doc), types=tuple(doc["type"]),
                         issuer=str(doc["issuer"]), title="Badge", issued_at=None,
                         expires_at=None, status="none", added_at=datetime.now(UTC),
                         data={"claims": doc, "disclosable": [], "holder_jwk": holder_jwk}))
    return cid


# --- tests ----------------------------------------------------------------------------------

async def test_wallet_metadata_announces_ldp_vc() -> None:
    from sharing.present import DEFAULT_WALLET_METADATA
    assert DEFAULT_WALLET_METADATA["vp_formats_supported"]["ldp_vc"] == {
        "proof_type_values": ["DataIntegrityProof"], "cryptosuite_values": ["eddsa-rdfc-2022"]}


async def test_ldp_vc_is_presented_whole_with_a_data_integrity_vp(app: TestClient[Any, Any],
                                                                  peer: Peer) -> None:
    token = await learner(app)
    cid = await import_badge(app, token)
    req = await ask(app, token, peer, ldp_query([["VerifiableCredential", "AchievementCredential"]],
                                                values=["test 1"]))
    assert req["satisfiable"] is True
    [q] = req["queries"]
    assert q["format"] == "ldp_vc"
    [opt] = q["options"]
    assert opt["credential_id"] == cid
    assert opt["whole_credential"] is True and opt["full_credential"] is True
    assert opt["claims"] == [{"path": NAME_PATH, "value": "test 1"}]  # what the query asked for

    r = await app.post(f"/v1/presentation-requests/{req['id']}/respond",
                       json={"choices": {"badge": cid}}, headers=auth(token))
    assert r.status == 200, await r.text()
    [got] = peer.posts
    assert got.errors == [] and got.jwt_vps == []
    assert set(got.payload["vp_token"]) == {"badge"}
    [vp] = got.ldp_vps
    assert vp["@context"] == ["https://www.w3.org/ns/credentials/v2"]  # the credential's VCDM 2.0
    assert "VerifiablePresentation" in vp["type"]
    check_vp(vp, nonce=peer.expect["nonce"], client_id=CLIENT_ID)
    # the holder's DID is one of the learner's own keys: the EdDSA one
    keys = (await (await app.get("/v1/keys", headers=auth(token))).json())["items"]
    eddsa = next(k for k in keys if k["alg"] == "EdDSA")
    assert ed25519_from_did_jwk(vp["proof"]["verificationMethod"]).encode() == \
        base64.urlsafe_b64decode(eddsa["jwk"]["x"] + "=" * (-len(eddsa["jwk"]["x"]) % 4))
    # the credential travels exactly as issued and stored
    assert vp["verifiableCredential"] == [json.loads(OB.read_text())]

    # the independent check can fail: any change to what was signed breaks it
    for mutate in (lambda v: v["verifiableCredential"][0]["credentialSubject"]["achievement"]
                   .__setitem__("name", "test 2"),
                   lambda v: v["proof"].__setitem__("challenge", "another-nonce"),
                   lambda v: v["proof"].__setitem__("domain", "x509_san_dns:evil.example")):
        tampered = copy.deepcopy(vp)
        mutate(tampered)
        with pytest.raises(BadSignatureError):
            check_vp(tampered, nonce=tampered["proof"]["challenge"],
                     client_id=tampered["proof"]["domain"])

    # the ledger says the whole credential went out (no paths pretending to be the extent)
    [event] = await ledger_details(app, token, "presentation_sent")
    assert event["counterparty"] == CLIENT_ID and event["credential_ids"] == [cid]
    assert event["data_categories"] == ["whole_credential"]
    assert event["details"]["whole_credential"] is True
    assert event["details"]["whole_credential_ids"] == cid
    assert event["claims"] == []
    assert "test 1" not in repr(event)


async def test_values_and_types_that_match_nothing_read_as_nothing_matched(
        app: TestClient[Any, Any], peer: Peer) -> None:
    token = await learner(app)
    await import_badge(app, token)
    for query in (ldp_query([["VerifiableCredential", "ClrCredential"]]),
                  ldp_query([["AchievementCredential"]], values=["test 2"])):
        req = await ask(app, token, peer, query)
        assert req["satisfiable"] is False and req["queries"][0]["options"] == []
        r = await app.post(f"/v1/presentation-requests/{req['id']}/decline", headers=auth(token))
        assert r.status == 200, await r.text()
    # what the verifier hears for a decline is the bare access_denied "nothing matched" gets
    assert [set(p.form) for p in peer.posts] == [{"error", "state"}] * 2
    assert all(p.form["error"] == "access_denied" for p in peer.posts)
    assert all(p.ldp_vps == [] for p in peer.posts)
    assert await ledger_details(app, token, "presentation_sent") == []


async def test_what_has_no_data_integrity_vp_is_not_offered(app: TestClient[Any, Any],
                                                            peer: Peer) -> None:
    token = await learner(app)
    v1 = {"@context": ["https://www.w3.org/2018/credentials/v1"],
          "type": ["VerifiableCredential", "AchievementCredential"], "issuer": "urn:x:issuer",
          "issuanceDate": "2024-01-01T00:00:00Z",
          "credentialSubject": {"achievement": {"name": "test 1"}}}
    await store(app, token, v1)  # VCDM 1.1: needs a context that is not bundled
    req = await ask(app, token, peer, ldp_query([["AchievementCredential"]]))
    assert req["satisfiable"] is False
    assert peer.posts == []


async def test_bound_to_a_key_the_vault_lacks_is_refused_and_nothing_sent(
        app: TestClient[Any, Any], peer: Peer) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from wallet.jose import public_jwk

    token = await learner(app)
    doc = json.loads(OB.read_text())
    other_wallet = public_jwk(ed25519.Ed25519PrivateKey.generate())
    cid = await store(app, token, doc, holder_jwk=other_wallet)
    req = await ask(app, token, peer, ldp_query([["AchievementCredential"]], binding=True))
    [opt] = req["queries"][0]["options"]  # holder-bound, so it matches the query
    r = await app.post(f"/v1/presentation-requests/{req['id']}/respond",
                       json={"choices": {"badge": opt["credential_id"]}}, headers=auth(token))
    await assert_problem(r, 400, "presentation_not_supported")
    assert opt["credential_id"] == cid and peer.posts == []
    assert await ledger_details(app, token, "presentation_sent") == []
    # an unbound credential is not an answer to a query that requires holder binding
    await import_badge(app, token)
    req = await ask(app, token, peer, ldp_query([["AchievementCredential"]], binding=True))
    assert [o["credential_id"] for o in req["queries"][0]["options"]] == [cid]


async def test_a_whole_credential_cannot_withhold_a_claim(app: TestClient[Any, Any],
                                                          peer: Peer) -> None:
    """An ldp_vc goes whole: a withheld claim would reach the verifier anyway. Refused (400),
    and nothing is sent or recorded."""
    token = await learner(app)
    cid = await import_badge(app, token)
    description = ["credentialSubject", "achievement", "description"]
    query = {"credentials": [{"id": "badge", "format": "ldp_vc",
                              "meta": {"type_values": [["AchievementCredential"]]},
                              "require_cryptographic_holder_binding": False,
                              "claims": [{"id": "n", "path": NAME_PATH},
                                         {"id": "d", "path": description}],
                              "claim_sets": [["n", "d"], ["n"]]}]}
    req = await ask(app, token, peer, query)
    r = await app.post(f"/v1/presentation-requests/{req['id']}/respond",
                       json={"choices": {"badge": cid}, "withhold": {cid: [description]}},
                       headers=auth(token))
    assert r.status == 400, await r.text()
    assert "presented whole" in (await r.json())["detail"]
    assert peer.posts == []
    assert await ledger_details(app, token, "presentation_sent") == []
    # answering without withholding still works: the learner sees it goes whole
    r = await app.post(f"/v1/presentation-requests/{req['id']}/respond",
                       json={"choices": {"badge": cid}}, headers=auth(token))
    assert r.status == 200, await r.text()
    [got] = peer.posts
    [vp] = got.ldp_vps
    assert "description" in vp["verifiableCredential"][0]["credentialSubject"]["achievement"]
