"""GDPR rights over HTTP: export → import into a Satchel on the *other* backend, erasure proven on a
copy of the data taken before it, and bad bundles refused with nothing half-imported."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import jsonschema
import jwt
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import Column, MetaData, String, Table, insert, select

from consent.errors import LedgerUnavailable
from consent.rights import MAX_BUNDLE_BYTES
from holder_api.appkeys import WIRING
from tests.holder_api.api_support import (
    encoded_forms,
    five_events,
    grep_tree,
    other_backend,
    put_credential,
)
from tests.holder_api.bundle_support import BUNDLE_PASSPHRASE, RAWS, _source
from tests.support.apps import app_clients
from tests.support.backends import PG_BASE, Backend, create_pg_database, drop_pg_database, sqlite_backend
from tests.support.http_api import PASSPHRASE, assert_problem, auth, login, sign_up
from tests.support.vectors import VECTORS
from wallet.db import create_engine
from wallet.errors import BadInput, Conflict, NotFound, Unavailable
from wallet.ports import Activity, ActivityKind
from wallet.vault import askar_records as askar_store


async def _keys(client: TestClient[Any, Any], token: str) -> list[dict[str, Any]]:
    r = await client.get("/v1/keys", headers=auth(token))
    assert r.status == 200
    return list((await r.json())["items"])


async def _credentials(client: TestClient[Any, Any], token: str) -> dict[str, str]:
    r = await client.get("/v1/credentials", headers=auth(token))
    out = {}
    for item in (await r.json())["items"]:
        detail = await (await client.get(f"/v1/credentials/{item['id']}",
                                         headers=auth(token))).json()
        out[item["id"]] = detail["raw"]
    return out


async def _ledger_length(client: TestClient[Any, Any], token: str) -> int:
    report = await (await client.get("/v1/consent/verify", headers=auth(token))).json()
    assert report["valid"] is True, report
    return int(report["length"])


async def test_export_import_round_trip_to_the_other_backend(
        client: TestClient[Any, Any], backend: Backend, tmp_path: Path) -> None:
    token, bundle = await _source(client, "mover")
    schema = await client.get("/v1/me/export/schema")  # public, published
    assert schema.status == 200
    jsonschema.Draft202012Validator(await schema.json()).validate(bundle)
    assert bundle["format"] == "satchel-export" and bundle["version"] == 1
    assert BUNDLE_PASSPHRASE not in json.dumps(bundle)
    assert all('"d"' not in json.dumps(k) for k in bundle["keys"]["items"])  # no bare private key
    src_creds, src_keys = await _credentials(client, token), await _keys(client, token)
    src_events = (await (await client.get("/v1/consent/events?limit=200",
                                          headers=auth(token))).json())["items"]
    assert src_events[0]["kind"] == "export"  # recorded before the bundle left
    src_length = await _ledger_length(client, token)

    async with other_backend(backend, tmp_path / "other") as other:
        async for make in app_clients(other):
            target = await make()
            await sign_up(target, "arrived")
            t_token = await login(target, "arrived")
            own_keys = await _keys(target, t_token)
            r = await target.post("/v1/me/import", json={**bundle, "passphrase": BUNDLE_PASSPHRASE},
                                  headers=auth(t_token))
            assert r.status == 201, await r.text()
            result = await r.json()
            assert result["credentials"] == 3 and result["keys"] == len(src_keys)
            assert result["ledger_entries"] == src_length

            # every credential byte-identical, under the same id
            got = await _credentials(target, t_token)
            assert got.keys() == src_creds.keys()
            for cid, raw in src_creds.items():
                assert got[cid].encode("utf-8") == raw.encode("utf-8")
            assert sorted(src_creds.values()) == sorted(RAWS)

            # keys: the source's keys are now the learner's here too, and they sign
            t_keys = await _keys(target, t_token)
            assert {k["id"]: k["jwk"] for k in src_keys}.items() <= {
                k["id"]: k["jwk"] for k in t_keys}.items()
            assert len(t_keys) == len(own_keys) + len(src_keys)
            services = target.app[WIRING]
            session = await services.accounts.service.authenticate(t_token)
            vault = services.stores.vault.for_learner(session.learner_id, session.dek)
            for k in src_keys:
                hk = await vault.holder_keys.get(k["id"])
                header = base64.urlsafe_b64encode(
                    json.dumps({"alg": hk.alg, "typ": "JWT"}).encode()).rstrip(b"=")
                payload = base64.urlsafe_b64encode(b'{"nonce":"n-1"}').rstrip(b"=")
                sig = base64.urlsafe_b64encode(hk.sign(header + b"." + payload)).rstrip(b"=")
                compact = (header + b"." + payload + b"." + sig).decode()
                # verified by pyjwt with the *source's* public JWK
                assert jwt.decode(compact, key=jwt.PyJWK(k["jwk"]).key,
                                  algorithms=[hk.alg]) == {"nonce": "n-1"}

            # the ledger came over verifiably: import marker + every source event
            assert await _ledger_length(target, t_token) == src_length + 1
            events = (await (await target.get("/v1/consent/events?limit=200",
                                              headers=auth(t_token))).json())["items"]
            kinds = [e["kind"] for e in events]
            assert kinds.count("import") == 1
            imported = [e for e in events if e["kind"] != "import"]
            assert [(e["kind"], e["counterparty"], e["claims"], e["credential_ids"])
                    for e in imported] == [
                (e["kind"], e["counterparty"], e["claims"], e["credential_ids"])
                for e in src_events]
            # the same bundle again (a retry whose answer was lost) answers as the import did,
            # and writes nothing: the chain is taken over once
            r = await target.post("/v1/me/import",
                                  json={"bundle": bundle, "passphrase": BUNDLE_PASSPHRASE},
                                  headers=auth(t_token))
            assert r.status == 201, await r.text()
            assert await r.json() == {**result, "replayed": True}
            assert result["replayed"] is False
            assert await _ledger_length(target, t_token) == src_length + 1
            assert await _credentials(target, t_token) == got
            # ... with the bundle's passphrase still required
            r = await target.post("/v1/me/import",
                                  json={"bundle": bundle, "passphrase": "not the one"},
                                  headers=auth(t_token))
            await assert_problem(r, 422, "wrong_bundle_passphrase")
            # another bundle into the now non-empty account is refused, nothing changes
            other_bundle = {**bundle, "exported_at": "2020-01-01T00:00:00Z"}
            r = await target.post("/v1/me/import",
                                  json={"bundle": other_bundle, "passphrase": BUNDLE_PASSPHRASE},
                                  headers=auth(t_token))
            await assert_problem(r, 409, "account_not_empty")
            assert await _ledger_length(target, t_token) == src_length + 1


def _pg(cmd: list[str]) -> bytes:
    return subprocess.run(cmd, capture_output=True, check=True, timeout=120).stdout


def _copy_sqlite(backend: Backend, into: Path) -> None:
    for f in backend.data_dir.iterdir():
        if f.is_file() and f.name.startswith(("vault.db", "satchel.db")):
            shutil.copy2(f, into / f.name)
    shutil.copytree(backend.data_dir / "data", into / "data",
                    ignore=shutil.ignore_patterns("keyring"))


async def _snapshot(backend: Backend, into: Path) -> list[Path]:
    """Copy the databases (not the keyring: it has its own short backup retention, docs/architecture.md)."""
    await asyncio.to_thread(into.mkdir)
    if backend.kind == "sqlite":
        await asyncio.to_thread(_copy_sqlite, backend, into)
        return []
    dumps = []
    for db in backend.pg_databases:
        path = into / f"{db}.dump"
        await asyncio.to_thread(_pg, ["pg_dump", "-Fc", "-f", str(path), f"{PG_BASE}/{db}"])
        dumps.append(path)
    return dumps


@asynccontextmanager
async def _restored(backend: Backend, snap: Path, dumps: list[Path]) -> AsyncIterator[Backend]:
    if backend.kind == "sqlite":
        yield sqlite_backend(snap)
        return
    tag = uuid.uuid4().hex[:12]
    names = (f"satchel_vault_r{tag}", f"satchel_sql_r{tag}")
    try:
        for name, dump in zip(names, dumps, strict=True):
            await create_pg_database(name)
            await asyncio.to_thread(_pg, ["pg_restore", "--no-owner", "-d", f"{PG_BASE}/{name}",
                                          str(dump)])
        yield Backend("postgres", snap, f"{PG_BASE}/{names[0]}",
                      PG_BASE.replace("postgres://", "postgresql+asyncpg://") + f"/{names[1]}",
                      names, keyring_uri=backend.keyring_uri)
    finally:
        for name in names:
            await drop_pg_database(name)


async def _live_bytes(backend: Backend, needles: list[bytes]) -> list[str]:
    hits = grep_tree(backend.data_dir / "data", needles)
    if backend.kind == "sqlite":
        for f in backend.data_dir.iterdir():
            if f.is_file() and f.name.startswith(("vault.db", "satchel.db")):
                data = f.read_bytes()
                hits += [f"{f.name}:{n!r}" for n in needles if n in data]
    else:
        for db in backend.pg_databases:
            dump = await asyncio.to_thread(_pg, ["pg_dump", f"{PG_BASE}/{db}"])
            hits += [f"{db}:{n!r}" for n in needles if n in dump]
    return hits


async def test_erasure_holds_against_a_copy_taken_before(
        client: TestClient[Any, Any], backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> None:
    a = await sign_up(client, "erase-me")
    b = await sign_up(client, "stay-here")
    ta, tb = await login(client, "erase-me"), await login(client, "stay-here")
    canaries = ("CANARY-A-claim-93kx", "canary-a-issuer.example", "CANARY-A-title-p0q")
    await put_credential(client, ta, title=canaries[2], issuer=f"https://{canaries[1]}",
                         raw=json.dumps({"name": canaries[0]}), claims={"name": canaries[0]})
    await put_credential(client, tb, title="B's course", raw='{"name": "B-visible-7"}')
    await five_events(client, ta)
    await five_events(client, tb)
    a_length = await _ledger_length(client, ta)
    ref_a = client.app[WIRING].stores.keys.learner_ref(a["learner_id"])
    id_needles = [a["learner_id"].encode()]

    snap = tmp_path_factory.mktemp("snapshot") / "copy"
    dumps = await _snapshot(backend, snap)

    # a wrong passphrase erases nothing
    await assert_problem(await client.post("/v1/me/erase", json={"passphrase": "not it at all"},
                                           headers=auth(ta)), 401)
    assert len(await _credentials(client, ta)) == 1
    r = await client.post("/v1/me/erase", json={"passphrase": PASSPHRASE}, headers=auth(ta))
    assert r.status == 204, await r.text()

    # live: A is gone, B works, A's chain is a verifiable tombstone
    await assert_problem(await client.get("/v1/credentials", headers=auth(ta)), 401)
    await assert_problem(await client.post("/v1/sessions", json={
        "username": "erase-me", "passphrase": PASSPHRASE}), 401)
    with pytest.raises(NotFound):
        await client.app[WIRING].stores.keyring.get(a["learner_id"])
    assert not await client.app[WIRING].stores.vault.has_profile(a["learner_id"])
    report = await client.app[WIRING].consent.service.verify(ref_a)
    assert report.valid and report.length == a_length + 1
    assert list((await _credentials(client, tb)).values()) == ['{"name": "B-visible-7"}']
    assert await _ledger_length(client, tb) == 5
    needles = [f for c in canaries for f in encoded_forms(c)] + id_needles
    assert await _live_bytes(backend, needles) == []

    # the copy taken before: A's rows are there (the grep can see them) ...
    if backend.kind == "sqlite":
        assert grep_tree(snap, id_needles)
    else:
        restored_sql = [await asyncio.to_thread(_pg, ["pg_restore", "-f", "-", str(d)])
                        for d in dumps]
        assert any(id_needles[0] in sql for sql in restored_sql)
    # ... but a Satchel started on it, with the live keyring, cannot open A; B still works
    async with _restored(backend, snap, dumps) as copy_backend:
        async for make in app_clients(copy_backend):
            restored = await make(
                SATCHEL_KEYRING_URI=backend.keyring_uri or str(backend.data_dir / "data" / "keyring"))
            await assert_problem(await restored.post("/v1/sessions", json={
                "username": "erase-me", "passphrase": PASSPHRASE}), 401)
            tb2 = await login(restored, "stay-here")
            assert list((await _credentials(restored, tb2)).values()) == [
                '{"name": "B-visible-7"}']
            assert await _ledger_length(restored, tb2) == 5
            services = restored.app[WIRING]
            with pytest.raises(NotFound):
                await services.stores.keyring.get(a["learner_id"])
            # A's ledger rows in the copy are still sealed bodies nobody can open
            assert (await services.consent.service.verify(ref_a)).length == a_length
    assert b["learner_id"] != a["learner_id"]


async def _bundle(client: TestClient[Any, Any]) -> dict[str, Any]:
    _token, bundle = await _source(client, "giver")
    return bundle


def _bad_bundles(bundle: dict[str, Any]) -> list[tuple[str, Any, int, str]]:
    def edit(fn: Any) -> dict[str, Any]:
        b = copy.deepcopy(bundle)
        fn(b)
        return b

    def tamper_entry(b: dict[str, Any]) -> None:
        b["ledger"]["records"][1]["kind"] = "presentation_declined"

    def tamper_key(b: dict[str, Any]) -> None:
        item = b["keys"]["items"][1]
        item["sealed"] = b["keys"]["items"][0]["sealed"]

    def bad_credential(b: dict[str, Any]) -> None:
        b["credentials"][2]["added_at"] = "not a date"

    return [
        ("not an object", [1, 2, 3], 400, "invalid_request"),
        ("wrong format", edit(lambda b: b.update(format="other-wallet")), 400, "invalid_bundle"),
        ("newer version", edit(lambda b: b.update(version=2)), 400,
         "unsupported_bundle_version"),
        ("version as string", edit(lambda b: b.update(version="1")), 400,
         "unsupported_bundle_version"),
        ("no keys", edit(lambda b: b.pop("keys")), 400, "invalid_bundle"),
        ("credential raw not text", edit(lambda b: b["credentials"][0].update(raw=7)), 400,
         "invalid_bundle"),
        ("bad credential date", edit(bad_credential), 400, "invalid_bundle"),
        *[(f"languages {bad!r}", edit(lambda b, bad=bad: b["credentials"][0]["data"].update(
            languages=bad)), 400, "invalid_bundle")
          # what the intake stores (holder_api.languages: at most 16 tags of at most 35)
          for bad in (5, [5], [{}], "en", [""], ["x" * 36], ["en"] * 17)],
        ("tampered ledger entry", edit(tamper_entry), 400, "invalid_import"),
        ("swapped sealed key", edit(tamper_key), 400, "invalid_bundle"),
        ("huge kdf", edit(lambda b: b["keys"]["protection"].update(memlimit=1 << 30)), 400,
         "invalid_bundle"),
        ("unknown records", edit(lambda b: b.update(records={"gadgets": []})), 400,
         "invalid_bundle"),
    ]


async def test_bad_bundles_are_refused_and_nothing_is_half_imported(
        client: TestClient[Any, Any]) -> None:
    bundle = await _bundle(client)
    await sign_up(client, "taker")
    token = await login(client, "taker")
    keys_before = await _keys(client, token)
    length_before = await _ledger_length(client, token)

    async def nothing_changed() -> None:
        assert await _credentials(client, token) == {}
        assert await _keys(client, token) == keys_before
        assert await _ledger_length(client, token) == length_before

    for name, body, status, code in _bad_bundles(bundle):
        payload = ({"bundle": body, "passphrase": BUNDLE_PASSPHRASE}
                   if not isinstance(body, dict) else {**body, "passphrase": BUNDLE_PASSPHRASE})
        r = await client.post("/v1/me/import", json=payload, headers=auth(token))
        problem = await assert_problem(r, status)
        assert problem["code"] == code, (name, problem)
        await nothing_changed()

    r = await client.post("/v1/me/import", json={"bundle": bundle, "passphrase": "wrong one, sorry"},
                          headers=auth(token))
    await assert_problem(r, 422, "wrong_bundle_passphrase")
    await nothing_changed()
    await assert_problem(await client.post("/v1/me/import", json={"bundle": bundle},
                                           headers=auth(token)), 400)
    await assert_problem(await client.post("/v1/me/import", data=b"{not json",
                                           headers={**auth(token),
                                                    "Content-Type": "application/json"}), 400)
    await nothing_changed()

    # a vault failure part-way through the import's one transaction (its 4th write) rolls
    # all of it back: no credential, no key, nothing staged for the ledger
    writes = {"n": 0}
    original_insert = askar_store._insert

    async def fails_part_way(*args: Any) -> None:
        writes["n"] += 1
        if writes["n"] == 4:
            raise Unavailable("simulated vault failure")
        await original_insert(*args)

    askar_store._insert = fails_part_way  # type: ignore[assignment]
    try:
        r = await client.post("/v1/me/import",
                              json={"bundle": bundle, "passphrase": BUNDLE_PASSPHRASE},
                              headers=auth(token))
        await assert_problem(r, 503)
    finally:
        askar_store._insert = original_insert  # type: ignore[assignment]
    assert writes["n"] >= 4
    await nothing_changed()
    report = await (await client.get("/v1/consent/verify", headers=auth(token))).json()
    assert report["staged_pending"] == 0

    # the ledger down once the vault has committed: the import stands (its ledger part is
    # staged in the same transaction) and moves into the ledger at the next access, once
    services = client.app[WIRING]

    async def ledger_down(*_: Any) -> Any:
        raise LedgerUnavailable("simulated outage")

    original = services.consent.service.import_staged_chain
    services.consent.service.import_staged_chain = ledger_down  # type: ignore[method-assign]
    try:
        r = await client.post("/v1/me/import",
                              json={"bundle": bundle, "passphrase": BUNDLE_PASSPHRASE},
                              headers=auth(token))
        assert r.status == 201, await r.text()
        event_id = (await r.json())["import_event_id"]
        report = await (await client.get("/v1/consent/verify", headers=auth(token))).json()
        assert report["staged_pending"] == 1 and report["length"] == length_before
    finally:
        services.consent.service.import_staged_chain = original  # type: ignore[method-assign]
    assert len(await _credentials(client, token)) == 3
    events = (await (await client.get("/v1/consent/events?limit=200",
                                      headers=auth(token))).json())["items"]
    assert [e["id"] for e in events if e["kind"] == "import"] == [event_id]
    assert await _ledger_length(client, token) == length_before + 1 + sum(
        1 for rec in bundle["ledger"]["records"] if rec["type"] == "entry")


async def test_export_is_refused_when_the_ledger_cannot_record_it(
        client: TestClient[Any, Any]) -> None:
    await sign_up(client, "quiet")
    token = await login(client, "quiet")
    await put_credential(client, token, title="x", raw='{"x": 1}')
    services = client.app[WIRING]

    async def ledger_down(*_: Any, **__: Any) -> Any:
        raise LedgerUnavailable("simulated outage")

    original = services.consent.service.record
    services.consent.service.record = ledger_down  # type: ignore[method-assign]
    try:
        r = await client.post("/v1/me/export", json={"passphrase": BUNDLE_PASSPHRASE},
                              headers=auth(token))
        problem = await assert_problem(r, 503, "ledger_unavailable")
        assert "credentials" not in problem
    finally:
        services.consent.service.record = original  # type: ignore[method-assign]
    await assert_problem(await client.post("/v1/me/export", json={"passphrase": "short"},
                                           headers=auth(token)), 400)
    await assert_problem(await client.post("/v1/me/export", json={"passphrase": BUNDLE_PASSPHRASE}),
                         401)


async def test_features_join_erasure_and_export_through_the_registry(
        client: TestClient[Any, Any], backend: Backend) -> None:
    """What inbox links, share links and settings do: a table and an eraser. No feature exports
    a record set of its own: the bundle's ``records`` stays empty, and imports as it is."""
    md = MetaData()
    links = Table("test_inbox_links", md, Column("id", String(36), primary_key=True),
                  Column("learner_id", String(36), nullable=False))
    engine = create_engine(backend.database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(md.create_all)
        registry = client.app[WIRING].consent.personal_data
        registry.add_table(links, "learner_id")
        erased: list[str] = []

        async def eraser(learner_id: str) -> None:
            erased.append(learner_id)

        registry.add_eraser("test_cache", eraser)
        with pytest.raises(Conflict):
            registry.add_eraser("test_cache", eraser)
        with pytest.raises(BadInput):
            registry.add_eraser("Not A Name", eraser)
        with pytest.raises(BadInput):
            registry.add_table(links, "owner")

        a, b = await sign_up(client, "linker"), await sign_up(client, "other-linker")
        token = await login(client, "linker")
        async with engine.begin() as conn:
            await conn.execute(insert(links), [
                {"id": "l1", "learner_id": a["learner_id"]},
                {"id": "l2", "learner_id": a["learner_id"]},
                {"id": "l3", "learner_id": b["learner_id"]}])
        r = await client.post("/v1/me/export", json={"passphrase": BUNDLE_PASSPHRASE},
                              headers=auth(token))
        bundle = await r.json()
        assert bundle["records"] == {}

        t2 = await login(client, "other-linker")
        r = await client.post("/v1/me/import",
                              json={"bundle": bundle, "passphrase": BUNDLE_PASSPHRASE},
                              headers=auth(t2))
        assert r.status == 201, await r.text()
        assert (await r.json())["records"] == []

        r = await client.post("/v1/me/erase", json={"passphrase": PASSPHRASE}, headers=auth(token))
        assert r.status == 204
        assert erased == [a["learner_id"]]
        async with engine.connect() as conn:
            left = (await conn.execute(select(links.c.id).order_by(links.c.id))).scalars().all()
        assert left == ["l3"]
    finally:
        await engine.dispose()


async def test_import_takes_only_raw_and_verifies_it_again(make_client: Any) -> None:
    """Found in review: a bundle must not be able to vouch for its own credentials."""
    client = await make_client()
    _token, bundle = await _source(client, "forger")
    # claims of trust in the bundle are ignored: recomputed from the credential itself
    lying = json.loads(json.dumps(bundle))
    for c in lying["credentials"]:
        c["data"]["verification"]["issuer_trusted"] = True
        c["data"]["verification"]["signature"] = "valid"
    await sign_up(client, "taker")
    t_token = await login(client, "taker")
    r = await client.post("/v1/me/import", json={**lying, "passphrase": BUNDLE_PASSPHRASE},
                          headers=auth(t_token))
    assert r.status == 201, await r.text()
    listed = (await (await client.get("/v1/credentials", headers=auth(t_token))).json())["items"]
    for item in listed:
        detail = await (await client.get(f"/v1/credentials/{item['id']}",
                                         headers=auth(t_token))).json()
        assert detail["verification"]["issuer_trusted"] is False  # no trust list configured
    # a credential whose proof does not verify is refused, and nothing is imported
    forged = json.loads(json.dumps(bundle))
    forged["credentials"][0]["raw"] = (VECTORS / "microcredentials/waltid/"
                                       "openbadgecredential_sample.signed.badsignature.json"
                                       ).read_text(encoding="utf-8")
    await sign_up(client, "taker2")
    t2 = await login(client, "taker2")
    r = await client.post("/v1/me/import", json={**forged, "passphrase": BUNDLE_PASSPHRASE},
                          headers=auth(t2))
    assert r.status == 400 and (await r.json())["pointer"] == "/credentials/0"
    assert (await (await client.get("/v1/credentials", headers=auth(t2))).json())["items"] == []


async def test_the_api_import_takes_bundles_as_large_as_the_web_form_does(
        client: TestClient[Any, Any]) -> None:
    """POST /v1/me/import has the web form's 51 MiB limit, not the API's 1 MiB default: a
    bundle of tens of credentials exported over the API imports over the API (it was 413)."""
    bundle = await _bundle(client)
    await sign_up(client, "large")
    token = await login(client, "large")
    over_limit = b"{" + b'"note": "' + b"x" * (MAX_BUNDLE_BYTES + 16) + b'"}'
    r = await client.post("/v1/me/import", data=over_limit,
                          headers={**auth(token), "Content-Type": "application/json"})
    await assert_problem(r, 413)
    big = {**bundle, "note": "x" * (3 * 1024 * 1024), "passphrase": BUNDLE_PASSPHRASE}
    assert len(json.dumps(big)) > client.app[WIRING].stores.settings.max_body_bytes
    r = await client.post("/v1/me/import", json=big, headers=auth(token))
    assert r.status == 201, await r.text()
    assert (await r.json())["credentials"] == 3
    assert len(await _credentials(client, token)) == 3
    spec = await (await client.get("/openapi.json")).json()
    assert "413" in spec["paths"]["/v1/me/import"]["post"]["responses"]


async def test_a_staged_takeover_is_taken_over_once_however_often_it_moves(
        client: TestClient[Any, Any]) -> None:
    """The chain an import stages moves exactly once: a move whose staged record survived (the
    process died after the ledger commit) and moves at once after it append nothing more; the
    ledger itself refuses a second takeover under the same id, even from concurrent callers."""
    bundle = await _bundle(client)
    records = bundle["ledger"]["records"]
    chain = sum(1 for rec in records if rec["type"] == "entry")
    await sign_up(client, "staged-mover")
    token = await login(client, "staged-mover")
    services = client.app[WIRING]
    session = await services.accounts.service.authenticate(token)
    outbox = services.consent.outbox
    length = await _ledger_length(client, token)
    lv = services.stores.vault.for_learner(session.learner_id, session.dek)
    async with lv.atomic() as tx:
        staged = await outbox.stage_takeover(tx, records, Activity(kind=ActivityKind.IMPORT))

    async def dies_before_clean_up(*_: Any) -> None:
        return None

    clean_up = outbox._clean_up
    outbox._clean_up = dies_before_clean_up  # type: ignore[method-assign]
    try:
        assert await outbox.flush(session.learner_id, session.dek) == len(records)
    finally:
        outbox._clean_up = clean_up  # type: ignore[method-assign]
    assert await outbox.pending(session.learner_id, session.dek) == 1  # still staged
    moved = await asyncio.gather(*(outbox.flush(session.learner_id, session.dek)
                                   for _ in range(3)))
    assert moved == [0, 0, 0]
    assert await outbox.pending(session.learner_id, session.dek) == 0
    assert await _ledger_length(client, token) == length + 1 + chain
    events = (await (await client.get("/v1/consent/events?limit=200",
                                      headers=auth(token))).json())["items"]
    assert [e["id"] for e in events if e["kind"] == "import"] == [staged.id]

    ledger, ref = services.consent.service.ledger, services.consent.ledger.ref(session.learner_id)
    marker = str(uuid.uuid4())
    taken = await asyncio.gather(*(ledger.import_staged_chain(ref, session.dek, marker, records)
                                   for _ in range(3)))
    assert sum(entry is not None for entry in taken) == 1
    assert await _ledger_length(client, token) == length + 2 * (1 + chain)
