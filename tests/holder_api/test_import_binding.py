"""An imported consent chain binds its events (the audit's D6): the export's signed manifest
covers every opened event, so an edited one is refused; a chain this service cannot vouch for
(another deployment's, or an export made before manifests) is taken over learner-asserted, its
verification says so, and no receipt of this service asserts it. On both backends."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from tests.holder_api.api_support import five_events, other_backend
from tests.holder_api.web_support import Browser
from tests.support.apps import app_clients
from tests.support.backends import Backend
from tests.support.http_api import PASSPHRASE, assert_problem, auth, login, sign_up

BUNDLE_PASSPHRASE = "the passphrase of the moving bundle"

#: another deployment's long-lived key (so another ledger signing key)
OTHER_DATA_KEY = base64.urlsafe_b64encode(b"another-deployment-data-key-32by").rstrip(b"=").decode()


async def _exported(client: TestClient[Any, Any], name: str) -> dict[str, Any]:
    await sign_up(client, name)
    token = await login(client, name)
    await five_events(client, token)
    r = await client.post("/v1/me/export", json={"passphrase": BUNDLE_PASSPHRASE},
                          headers=auth(token))
    assert r.status == 200, await r.text()
    return dict(await r.json())


async def _import(client: TestClient[Any, Any], name: str,
                  bundle: dict[str, Any]) -> tuple[str, Any]:
    await sign_up(client, name)
    token = await login(client, name)
    r = await client.post("/v1/me/import",
                          json={"bundle": bundle, "passphrase": BUNDLE_PASSPHRASE},
                          headers=auth(token))
    return token, r


async def _got(client: TestClient[Any, Any], token: str, path: str) -> Any:
    r = await client.get(path, headers=auth(token))
    assert r.status == 200, await r.text()
    return await r.json()


async def _events(client: TestClient[Any, Any], token: str) -> list[dict[str, Any]]:
    return list((await _got(client, token, "/v1/consent/events?limit=200"))["items"])


async def _verify(client: TestClient[Any, Any], token: str) -> dict[str, Any]:
    return dict(await _got(client, token, "/v1/consent/verify"))


def _records(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return list(bundle["ledger"]["records"])


def _rewritten(bundle: dict[str, Any]) -> dict[str, Any]:
    """The auditor's edit: the share link's purpose and counterparty rewritten."""
    edited = copy.deepcopy(bundle)
    record = next(r for r in _records(edited) if r.get("kind") == "share_link_created")
    record["event"] = dict(record["event"], purpose="REWRITTEN-PURPOSE",
                           counterparty="https://REWRITTEN.example")
    return edited


def _before_manifests(bundle: dict[str, Any]) -> dict[str, Any]:
    """The bundle as a release before manifests exported it (or one stripped of its manifest)."""
    old = copy.deepcopy(bundle)
    for record in _records(old):
        record.pop("learner_asserted", None)
        record.pop("manifest", None)
    return old


def _jws_payload(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    out: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return out


async def test_an_edited_event_is_refused_and_an_intact_one_keeps_its_receipt(
        client: TestClient[Any, Any]) -> None:
    bundle = await _exported(client, "source")
    head = _records(bundle)[-1]
    assert head["type"] == "head" and isinstance(head["manifest"], str)
    entries = [r for r in _records(bundle) if r["type"] == "entry"]
    assert [e["learner_asserted"] for e in entries] == [False] * len(entries)

    # the auditor's repro: the rewrite is refused, naming the entry; nothing is imported
    edited = _rewritten(bundle)
    seq = next(r["seq"] for r in _records(edited) if r.get("kind") == "share_link_created")
    token, r = await _import(client, "rewriter", edited)
    problem = await assert_problem(r, 400, "invalid_import")
    assert problem["detail"] == f"entry {seq} does not match the signed manifest"
    assert [e["kind"] for e in await _events(client, token)] == []
    # ... and so is an entry that claims this service's word where it had the learner's only
    flipped = copy.deepcopy(bundle)
    flipped["ledger"]["records"][0]["learner_asserted"] = True
    await assert_problem((await _import(client, "flipper", flipped))[1], 400, "invalid_import")
    unlisted = copy.deepcopy(bundle)
    unlisted["ledger"]["records"][-1]["manifest"] = head["signed_head"]  # another JWS
    await assert_problem((await _import(client, "unlisted", unlisted))[1], 400, "invalid_import")

    # the intact bundle: every event on this service's word, receipts as before
    token, r = await _import(client, "mover", bundle)
    assert r.status == 201, await r.text()
    events = await _events(client, token)
    imported = [e for e in events if e["imported"]]
    assert len(imported) == len(entries)
    assert not any(e["learner_asserted"] for e in events)
    report = await _verify(client, token)
    assert report["valid"] is True and report["learner_asserted_entries"] == 0
    assert [(i["entries"], i["learner_asserted"], i["attestation"])
            for i in report["imports"]] == [(len(entries), 0, "this_service")]
    share = next(e for e in imported if e["kind"] == "share_link_created")
    r = await client.get(f"/v1/consent/receipts/{share['id']}", headers=auth(token))
    assert r.status == 200 and r.content_type == "application/jwt"
    assert _jws_payload(await r.text())["eventId"] == share["id"]


async def test_an_export_without_a_manifest_imports_learner_asserted(
        client: TestClient[Any, Any]) -> None:
    """An export made before manifests (or stripped of it) still imports; its entries are
    listed as learner-asserted and no receipt of this service asserts them; the rewrite that
    was once receipted is now named for what it is."""
    bundle = await _exported(client, "old-source")
    old = _rewritten(_before_manifests(bundle))
    entries = [r for r in _records(old) if r["type"] == "entry"]
    token, r = await _import(client, "old-mover", old)
    assert r.status == 201, await r.text()
    events = await _events(client, token)
    imported = [e for e in events if e["imported"]]
    assert len(imported) == len(entries) and all(e["learner_asserted"] for e in imported)
    marker = next(e for e in events if e["kind"] == "import")
    assert marker["imported"] is False and marker["learner_asserted"] is False
    report = await _verify(client, token)
    assert report["valid"] is True and report["head_ok"] is True
    assert report["learner_asserted_entries"] == len(entries)
    assert [(i["event_id"], i["attestation"]) for i in report["imports"]] == [
        (marker["id"], "none")]
    share = next(e for e in imported if e["kind"] == "share_link_created")
    assert share["purpose"] == "REWRITTEN-PURPOSE"  # listed as the learner brought it ...
    r = await client.get(f"/v1/consent/receipts/{share['id']}", headers=auth(token))
    await assert_problem(r, 409, "learner_asserted_entry")  # ... never signed as ours
    r = await client.get(f"/v1/consent/receipts/{marker['id']}", headers=auth(token))
    assert r.status == 200  # the import itself is this service's own record

    # exported again, the flag travels under this service's manifest: a second move keeps
    # the learner's word the learner's, and the flag cannot be dropped on the way
    r = await client.post("/v1/me/export", json={"passphrase": BUNDLE_PASSPHRASE},
                          headers=auth(token))
    again = dict(await r.json())
    flags = {rec["id"]: rec["learner_asserted"] for rec in _records(again)
             if rec["type"] == "entry"}
    assert sum(flags.values()) == len(entries)
    forged = copy.deepcopy(again)
    for rec in _records(forged):
        rec["learner_asserted"] = False if rec["type"] == "entry" else rec.get("learner_asserted")
    await assert_problem((await _import(client, "launderer", forged))[1], 400, "invalid_import")
    token2, r = await _import(client, "second-move", again)
    assert r.status == 201, await r.text()
    report = await _verify(client, token2)
    assert report["learner_asserted_entries"] == len(entries)
    assert report["imports"][-1]["attestation"] == "this_service"
    moved = [e for e in await _events(client, token2) if e["imported"]]
    assert sum(e["learner_asserted"] for e in moved) == len(entries)
    assert len(moved) == len(flags)


async def test_a_chain_from_another_deployment_is_learner_asserted(
        client: TestClient[Any, Any], backend: Backend, tmp_path: Path) -> None:
    bundle = await _exported(client, "leaver")
    entries = [r for r in _records(bundle) if r["type"] == "entry"]
    async with other_backend(backend, tmp_path / "other") as other:
        async for make in app_clients(other):
            there = await make(SATCHEL_DATA_KEY=OTHER_DATA_KEY)
            # the other deployment's key is not ours: its manifest is checked (an edit is still
            # refused) but vouches for nothing here
            await assert_problem((await _import(there, "edited", _rewritten(bundle)))[1], 400,
                                 "invalid_import")
            token, r = await _import(there, "arrival", bundle)
            assert r.status == 201, await r.text()
            imported = [e for e in await _events(there, token) if e["imported"]]
            assert len(imported) == len(entries)
            assert all(e["learner_asserted"] for e in imported)
            report = await _verify(there, token)
            assert report["valid"] is True and report["learner_asserted_entries"] == len(entries)
            assert report["imports"][0]["attestation"] == "another_service"
            r = await there.get(f"/v1/consent/receipts/{imported[0]['id']}",
                                headers=auth(token))
            await assert_problem(r, 409, "learner_asserted_entry")


async def test_the_web_history_offers_no_receipt_for_a_learner_asserted_entry(
        client: TestClient[Any, Any]) -> None:
    old = _before_manifests(await _exported(client, "web-source"))
    token, r = await _import(client, "web-arrival", old)
    assert r.status == 201, await r.text()
    imported = [e for e in await _events(client, token) if e["imported"]]
    browser = Browser(client)
    try:
        await browser.get("/")
        page = await browser.post("/unlock", {"username": "web-arrival",
                                              "passphrase": PASSPHRASE})
        assert page.status == 200, page.html
        history = await browser.get("/history")
        assert len(history.testids("learner-asserted")) == len(imported)
        assert not any(f"/history/{e['id']}/receipt" in history.html for e in imported)
    finally:
        await browser.session.close()


async def test_a_chain_spliced_into_another_learners_bundle_is_learner_asserted(
        client: TestClient[Any, Any]) -> None:
    """The audit's A5 (2026-12-07): Bob's chain, manifest and all (this deployment's key), put
    into Alice's bundle (her keys, her passphrase) and imported into a fresh account, used to
    be taken over on this service's word, and the service signed receipts for Bob's events
    under the importer's principal id. The manifest now binds the chain to the bundle it was
    exported in (its keys: check value and key ids): carried by another, it is kept
    learner-asserted, as a chain this service cannot vouch for."""
    alice = await _exported(client, "alice")
    bob = await _exported(client, "bob")
    spliced = copy.deepcopy(alice)
    spliced["ledger"] = copy.deepcopy(bob["ledger"])
    entries = [r for r in _records(spliced) if r["type"] == "entry"]
    token, r = await _import(client, "carol", spliced)
    assert r.status == 201, await r.text()
    report = await _verify(client, token)
    assert report["valid"] is True and report["learner_asserted_entries"] == len(entries)
    assert [(i["entries"], i["learner_asserted"], i["attestation"])
            for i in report["imports"]] == [(len(entries), len(entries), "another_bundle")]
    imported = [e for e in await _events(client, token) if e["imported"]]
    assert len(imported) == len(entries) and all(e["learner_asserted"] for e in imported)
    r = await client.get(f"/v1/consent/receipts/{imported[0]['id']}", headers=auth(token))
    await assert_problem(r, 409, "learner_asserted_entry")

    # what the head record says of the bundle carrying it is not the bundle's word: the
    # importer computes it from the bundle it opened
    head = _records(bob)[-1]
    claimed = _jws_payload(head["manifest"])["bundle_keys"]
    forged = copy.deepcopy(spliced)
    forged["ledger"]["records"][-1]["carrier_keys"] = claimed
    token, r = await _import(client, "carol-again", forged)
    assert r.status == 201, await r.text()
    assert (await _verify(client, token))["imports"][0]["attestation"] == "another_bundle"
    # Bob's own bundle, moved whole, is still this service's word
    token, r = await _import(client, "bob-moved", bob)
    assert r.status == 201, await r.text()
    assert (await _verify(client, token))["imports"][0]["attestation"] == "this_service"
