"""SD-JWTs for the tests: the ``specification.yml`` vectors (tests/vectors/README.md), and a few
hand-made ones (fixed keys, ``make`` / ``verify``) for the mutation and fast-path tests.

Loading the vectors:

The vectors hold generator *inputs*: ``user_claims`` with ``!sd`` tags, ``holder_disclosed_claims``
and optionally ``expect_verified_user_claims``. The reference ``sd-jwt`` package (0.10.4) issues and
verifies; this module only loads YAML and computes what a verifier must see, independently of the
code under test.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier

from wallet.formats.sd_jwt import (
    UnverifiedSdJwt,
    static_key,
    verify_sd_jwt,
)
from wallet.jose import b64url_encode, private_key_from_jwk, public_jwk, sign_compact

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
FOLDERS = ("sd-jwt", "sd-jwt-python", "sd-jwt-vc")


class _SpecLoader(yaml.SafeLoader):
    """SafeLoader that turns ``!sd`` (on keys, scalars, mappings, sequences) into ``SDObj``."""


def _construct_sd(loader: yaml.SafeLoader, node: yaml.Node) -> SDObj:
    if isinstance(node, yaml.ScalarNode):
        if node.style in ('"', "'"):
            tag = "tag:yaml.org,2002:str"
        else:
            tag = loader.resolve(yaml.ScalarNode, node.value, (True, False))
        plain = yaml.ScalarNode(tag, node.value, node.start_mark, node.end_mark, node.style)
        return SDObj(loader.construct_object(plain, deep=True))
    if isinstance(node, yaml.MappingNode):
        return SDObj(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return SDObj(loader.construct_sequence(node, deep=True))
    raise TypeError(f"unsupported !sd node {node!r}")


_SpecLoader.add_constructor("!sd", _construct_sd)


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=_SpecLoader)  # noqa: S506 - SafeLoader subclass


def strip_sd(node: Any) -> Any:
    """The claims with every ``!sd`` marker removed (what the holder sees)."""
    if isinstance(node, SDObj):
        return strip_sd(node.value)
    if isinstance(node, dict):
        return {strip_sd(k): strip_sd(v) for k, v in node.items()}
    if isinstance(node, list):
        return [strip_sd(v) for v in node]
    return node


def sd_paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every claim path the issuer made selectively disclosable."""
    if isinstance(node, dict):
        for k, v in node.items():
            name = k.value if isinstance(k, SDObj) else k
            if isinstance(k, SDObj):
                yield (*path, name)
            yield from sd_paths(v, (*path, name))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            if isinstance(v, SDObj):
                yield (*path, i)
                yield from sd_paths(v.value, (*path, i))
            else:
                yield from sd_paths(v, (*path, i))


def chosen_paths(hdc: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """``holder_disclosed_claims`` as claim paths: ``True`` chooses a path (and all beneath it)."""
    if hdc is True and path:
        yield path
    elif isinstance(hdc, dict):
        for k, v in hdc.items():
            yield from chosen_paths(v, (*path, k))
    elif isinstance(hdc, list):
        for i, v in enumerate(hdc):
            yield from chosen_paths(v, (*path, i))


def exists(claims: Any, path: tuple[Any, ...]) -> bool:
    node = claims
    for step in path:
        if isinstance(node, dict) and step in node:
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
        else:
            return False
    return True


def _prefix(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return b[: len(a)] == a


def revealed(node: Any, chosen: list[tuple[Any, ...]], path: tuple[Any, ...] = (),
             whole: bool = False) -> Any:
    """What a verifier sees when the holder discloses ``chosen``: plain claims always, a
    selectively disclosable one only on the way to, or beneath, a chosen path."""

    def wanted(sub: tuple[Any, ...]) -> bool:
        return whole or any(_prefix(p, sub) or _prefix(sub, p) for p in chosen)

    def below(sub: tuple[Any, ...]) -> bool:
        return whole or any(_prefix(p, sub) for p in chosen)

    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            name = k.value if isinstance(k, SDObj) else k
            sub = (*path, name)
            if not isinstance(k, SDObj) or wanted(sub):
                out[name] = revealed(v, chosen, sub, below(sub))
        return out
    if isinstance(node, list):
        items = []
        for i, v in enumerate(node):
            sub = (*path, i)
            if isinstance(v, SDObj):
                if wanted(sub):
                    items.append(revealed(v.value, chosen, sub, below(sub)))
            else:
                items.append(revealed(v, chosen, sub, below(sub)))
        return items
    return node


@dataclass
class Case:
    """One vector folder, with the settings that apply to it."""

    id: str
    spec: dict[str, Any]
    settings: dict[str, Any]

    @property
    def issuer_jwk(self) -> dict[str, Any]:
        ks = self.settings["key_settings"]
        return dict(ks["issuer_keys"][0] if "issuer_keys" in ks else ks["issuer_key"])

    @property
    def holder_jwk(self) -> dict[str, Any]:
        return dict(self.settings["key_settings"]["holder_key"])

    @property
    def user_claims(self) -> dict[str, Any]:
        """The claims to issue: the vector's, after the default ``iss``/``iat``/``exp``."""
        claims: dict[Any, Any] = {}
        if self.spec.get("include_default_claims", True):
            claims = {"iss": self.settings["identifiers"]["issuer"], "iat": self.settings["iat"],
                      "exp": self.settings["exp"]}
        claims.update(self.spec["user_claims"])
        return claims

    @property
    def defaults(self) -> dict[str, Any]:
        return {k: v for k, v in self.user_claims.items() if k in ("iss", "iat", "exp")}


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(base))
    for k, v in override.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def cases() -> list[Case]:
    found = []
    for folder in FOLDERS:
        settings = load_yaml(VECTORS / folder / "settings.yml")
        for spec_file in sorted((VECTORS / folder).glob("*/specification.yml")):
            spec = load_yaml(spec_file)
            merged = _merge(settings, spec.get("settings_override") or {})
            if "issuer_keys" in (spec.get("settings_override") or {}):
                merged["key_settings"]["issuer_keys"] = spec["settings_override"]["issuer_keys"]
            found.append(Case(f"{folder}/{spec_file.parent.name}", spec, merged))
    return found


# --------------------------------------------------------------------------------------------
# The harness: reference issues → ours verifies → ours presents → reference verifies.
# --------------------------------------------------------------------------------------------




CASES = cases()
NOW = datetime(2025, 4, 15, 12, 0, tzinfo=UTC)  # between the vectors' iat (2023) and exp (2029)
AUD, NONCE, KB_IAT = "https://verifier.example.org", "1234567890", int(NOW.timestamp())


def reference_issue(case: Case, *, decoys: bool | None = None) -> str:
    """The reference implementation issues the case (compact; the holder key always bound, so
    every presentation below carries a KB-JWT)."""
    random.seed(case.settings.get("random_seed", 0))
    issuer = SDJWTIssuer(
        case.user_claims,
        JWK(**case.issuer_jwk),
        holder_key=JWK(**case.holder_jwk),
        add_decoy_claims=case.spec.get("add_decoy_claims", False) if decoys is None else decoys,
        serialization_format="compact",
        extra_header_parameters=case.spec.get("extra_header_parameters") or {},
    )
    return issuer.sd_jwt_issuance


def reference_verify(case: Case, presentation: str) -> dict[str, Any]:
    issuer_public = JWK(**{k: v for k, v in case.issuer_jwk.items() if k != "d"})
    verifier = SDJWTVerifier(presentation, lambda iss, header: issuer_public,
                             expected_aud=AUD, expected_nonce=NONCE)
    return verifier.get_verified_payload()


# --- hand-made SD-JWTs for the mutation and fast-path tests (RFC 9901 §4, §7) -------------------

ISSUER_JWK = {"kty": "EC", "crv": "P-256", "d": "Ur2bNKuBPOrAaxsRnbSH6hIhmNTxSGXshDSUD1a1y7g",
              "x": "b28d4MwZMjw8-00CG4xfnn9SLMVMM19SlqZpVb_uNtQ",
              "y": "Xv5zWwuoaTgdS6hV43yI6gBwTnjukmFQQnJ_kCxzqk8"}
HOLDER_JWK = {"kty": "EC", "crv": "P-256", "d": "5K5SCos8zf9zRemGGUl6yfok-_NiiryNZsvANWMhF-I",
              "x": "TCAER19Zvu3OHF4j4W4vfSVoHIP1ILilDls7vCeGemc",
              "y": "ZxjiWWbZMQGHVWKVQ4hbSIirsVfuecCE6t4jT9F2HZQ"}
ISSUER = private_key_from_jwk(ISSUER_JWK)
HOLDER = private_key_from_jwk(HOLDER_JWK)
ISSUER_PUB = ISSUER.public_key()
T = int(NOW.timestamp())
HEADER = {"alg": "ES256", "typ": "dc+sd-jwt"}


def disclosure(*elements: Any) -> str:
    return b64url_encode(json.dumps(list(elements)).encode())


def dig(d: str, alg: str = "sha256") -> str:
    return b64url_encode(hashlib.new(alg, d.encode()).digest())


def make(payload: dict[str, Any], disclosures: list[str], *, header: dict[str, Any] | None = None,
         kb: str = "") -> str:
    jwt = sign_compact(header or HEADER, payload, ISSUER)
    return "~".join([jwt, *disclosures, kb])


def verify(raw: str, **kw: Any) -> Any:
    return verify_sd_jwt(UnverifiedSdJwt.parse(raw), issuer_key_resolver=static_key(ISSUER_PUB),
                         now=NOW, **kw)


GIVEN = disclosure("salt1", "given_name", "Ada")


FAMILY = disclosure("salt2", "family_name", "Lovelace")


ELEM = disclosure("salt3", "DE")


BASE = {"iss": "https://issuer.example.com", "iat": T - 100, "exp": T + 10_000,
        "vct": "https://credentials.example.com/micro", "_sd_alg": "sha-256",
        "_sd": sorted([dig(GIVEN), dig(FAMILY), dig("decoy")]),
        "nationalities": [{"...": dig(ELEM)}, "FR"],
        "cnf": {"jwk": public_jwk(HOLDER)}}
