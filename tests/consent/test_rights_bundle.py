"""The bundle reader under Hypothesis: any mutation of a valid bundle is either accepted as a whole
or refused with a 4xx SatchelError, never another exception (a parser facing attacker input)."""

from __future__ import annotations

import asyncio
import copy
import json
import os
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent.errors import BundleRejected
from consent.rights import BUNDLE_FORMAT, RightsService, _check_aad, bundle_schema
from wallet.accounts.limits import UnlockGate
from wallet.crypto import (
    SALT_BYTES,
    TEST_KDF,
    VaultKey,
    derive_kek,
    generate_holder_key,
    seal_holder_key,
)
from wallet.errors import SatchelError
from wallet.jose import b64url_encode
from wallet.personal_data import PersonalDataRegistry

PASS = "the bundle passphrase, long enough"


def _bundle() -> dict[str, Any]:
    salt = os.urandom(SALT_BYTES)
    sealing = VaultKey.from_bytes(derive_kek(PASS, salt, TEST_KDF))
    keys = [generate_holder_key("ES256"), generate_holder_key("EdDSA")]
    return {
        "format": BUNDLE_FORMAT, "version": 1, "exported_at": "2026-01-01T00:00:00Z",
        "credentials": [{"id": "c1", "format": "ldp_vc", "raw": '{"a": 1}', "types": ["VC"],
                         "issuer": "https://i.example", "title": "T", "issued_at": None,
                         "expires_at": None, "status": "valid",
                         "added_at": datetime(2026, 1, 1, tzinfo=UTC).isoformat(), "data": {}}],
        "keys": {"protection": {"kdf": "argon2id", "salt": b64url_encode(salt),
                                "opslimit": TEST_KDF.opslimit, "memlimit": TEST_KDF.memlimit,
                                "cipher": "xchacha20-poly1305-ietf"},
                 "check": b64url_encode(sealing.seal(b"satchel-export/v1 keys",
                                                     _check_aad(salt))),
                 "items": [{"kid": k.kid, "alg": k.alg, "public_jwk": k.public_jwk,
                            "did": k.did, "created_at": k.created_at.isoformat(),
                            "sealed": b64url_encode(seal_holder_key(sealing, k))}
                           for k in keys]},
        "ledger": {"format": "satchel-consent-chain/v1", "records": []},
        "records": {},
    }


BASE = _bundle()
GATE = UnlockGate(1)


class EchoIntake:
    """Stands in for the credential intake: this file tests the bundle reader, not the proofs
    (tests/holder_api/test_rights.py imports real credentials through the real intake)."""

    async def admit(self, raw: str, *, languages: Any = ("en",), source: str = "",
                    credential_id: str | None = None) -> Any:
        from datetime import UTC, datetime
        from types import SimpleNamespace

        from wallet.vault import StoredCredential

        return SimpleNamespace(stored=StoredCredential(
            id=credential_id or "x", format="ldp_vc", raw=raw, types=("VC",), issuer="x",
            title=None, issued_at=None, expires_at=None, status="none",
            added_at=datetime.now(UTC), data={}))


SERVICE = RightsService(
    accounts=cast(Any, None), vault=cast(Any, None), consent=cast(Any, None),
    ledger=cast(Any, None), registry=PersonalDataRegistry(), gate=GATE, limiter=cast(Any, None),
    engine=cast(Any, None), vault_uri="", service_url="https://satchel.example",
    intake=cast(Any, EchoIntake()), outbox=cast(Any, None))

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


PATHS = [p for p in _paths(BASE) if p]


def _stage(bundle: Any, passphrase: Any = PASS) -> Any:
    return asyncio.run(SERVICE._stage(bundle, passphrase))


def test_the_valid_bundle_stages_and_follows_the_published_schema() -> None:
    staged = _stage(copy.deepcopy(BASE))
    assert [c.id for c in staged.credentials] == ["c1"]
    assert [k.kid for k in staged.keys] == [i["kid"] for i in BASE["keys"]["items"]]
    assert bundle_schema()["properties"]["version"] == {"const": 1}


def test_version_1_keeps_an_empty_records_member() -> None:
    """Bundles as every release wrote them carry ``"records": {}`` (no feature exports a record
    set of its own): they stage, and so does one without the member; one naming a record set is
    refused, pointing at it, as it was when nothing could take one."""
    assert _stage(copy.deepcopy(BASE)).credentials
    without = copy.deepcopy(BASE)
    without.pop("records")
    assert _stage(without).credentials
    with pytest.raises(BundleRejected) as refused:
        _stage({**copy.deepcopy(BASE), "records": {"settings": {"theme": "dark"}}})
    assert refused.value.status == 400 and refused.value.extra == {"pointer": "/records/settings"}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=_json, drop=st.booleans())
def test_any_mutation_is_accepted_whole_or_refused_with_4xx(path: tuple[Any, ...], value: Any,
                                                           drop: bool) -> None:
    bundle = copy.deepcopy(BASE)
    node = bundle
    for step in path[:-1]:
        node = node[step]
    if drop and isinstance(node, dict):
        node.pop(path[-1])
    else:
        node[path[-1]] = value
    try:
        staged = _stage(json.loads(json.dumps(bundle)))
    except SatchelError as exc:
        assert 400 <= exc.status < 500, (path, exc)
        return
    # accepted: then everything that matters is intact
    assert [k.kid for k in staged.keys] == [i["kid"] for i in bundle["keys"]["items"]]
    assert [c.raw for c in staged.credentials] == [c["raw"] for c in bundle["credentials"]]


@given(passphrase=st.text(min_size=1, max_size=40).filter(lambda p: p != PASS))
@settings(max_examples=10, deadline=None)
def test_a_wrong_passphrase_is_a_422(passphrase: str) -> None:
    try:
        _stage(copy.deepcopy(BASE), passphrase)
    except SatchelError as exc:
        assert exc.status == 422 and exc.code == "wrong_bundle_passphrase"
    else:
        raise AssertionError("a wrong passphrase opened the bundle")
