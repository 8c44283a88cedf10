"""Test helpers: build DCQL candidates from the SD-JWT specification vectors, and present them with
the reference ``sd-jwt`` package (an independent peer) to see what a verifier would really get."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.utils.yaml_specification import load_yaml_specification
from sd_jwt.verifier import SDJWTVerifier

from sharing.dcql import Candidate
from wallet.formats.model import ClaimPath


def _walk(obj: Any, here: ClaimPath, sd: set[ClaimPath]) -> Any:
    if isinstance(obj, SDObj):
        sd.add(here)
        return _walk(obj.value, here, sd)
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if isinstance(k, SDObj):
                k = k.value
                sd.add(here + (k,))
            out[k] = _walk(v, here + (k,), sd)
        return out
    if isinstance(obj, list):
        return [_walk(v, here + (i,), sd) for i, v in enumerate(obj)]
    return obj


class PeerCredential:
    """One SD-JWT issued by the reference implementation from a ``specification.yml``."""

    def __init__(self, spec_file: Path, settings_file: Path) -> None:
        spec = load_yaml_specification(spec_file)
        settings = yaml.safe_load(settings_file.read_text())
        self.issuer_key = JWK(**settings["key_settings"]["issuer_key"])
        self.user_claims = spec["user_claims"]
        sd: set[ClaimPath] = set()
        self.claims = _walk(self.user_claims, (), sd)
        self.disclosable = frozenset(sd)
        self.issuance = SDJWTIssuer(self.user_claims, self.issuer_key).sd_jwt_issuance

    def candidate(self, credential_id: str, *, holder_bound: bool = True,
                  fmt: str = "dc+sd-jwt") -> Candidate:
        types = {self.claims["vct"]} if "vct" in self.claims else set()
        return Candidate(credential_id, fmt, frozenset(types), self.claims, self.disclosable,
                         holder_bound)

    def present(self, disclosure_paths: frozenset[ClaimPath]) -> dict[str, Any]:
        """Reveal exactly ``disclosure_paths`` with the reference holder; what the verifier sees."""
        holder = SDJWTHolder(self.issuance)
        holder.create_presentation(paths_to_holder_claims(disclosure_paths))
        verifier = SDJWTVerifier(holder.sd_jwt_presentation, lambda iss, hdr: self.issuer_key)
        payload = verifier.get_verified_payload()
        for k in ("_sd_alg", "iat", "exp"):
            payload.pop(k, None)
        return payload


def paths_to_holder_claims(paths: frozenset[ClaimPath]) -> Any:
    """Disclosure paths → the reference holder's ``claims_to_disclose`` structure."""
    root: dict[Any, Any] = {}
    for path in sorted(paths, key=len):
        node: Any = root
        for i, comp in enumerate(path):
            last = i == len(path) - 1
            nxt_is_index = not last and isinstance(path[i + 1], int)
            if isinstance(comp, int):
                while len(node) <= comp:
                    node.append(None)
                if node[comp] in (None, True):
                    node[comp] = True if last else ([] if nxt_is_index else {})
                node = node[comp]
            else:
                if node.get(comp) in (None, True):
                    node[comp] = True if last else ([] if nxt_is_index else {})
                node = node[comp]
    return root
