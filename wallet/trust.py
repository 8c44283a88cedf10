"""The trust list: which issuers and which verifiers the deployment vouches for.

A verified signature only says *someone* holding a key signed; whether that someone is a
university (issuer) or a relying party (verifier) the learner may believe is a policy question
(OpenID4VP 1.0 §5.9 client identifier prefixes, https://openid.net/specs/openid-4-verifiable-
presentations-1_0.html; SD-JWT VC §3.5 issuer key, https://datatracker.ietf.org/doc/draft-ietf-
oauth-sd-jwt-vc/). Satchel answers it from one JSON file named by ``SATCHEL_TRUST_LIST``; without a
file **nothing is trusted** (credentials still verify, they are just shown as "issuer not on the
trust list").

File format (UTF-8 JSON, at most 4 MiB; unknown members are errors, so typos do not silently
weaken a pin)::

    {
      "comment": "optional free text",
      "issuers": [
        {"id": "https://issuer.example" | "did:web:issuer.example",   (required)
         "name": "Example University",                                (optional)
         "jwk_thumbprint": "<RFC 7638 SHA-256 thumbprint, base64url>", (optional pin)
         "certificate_sha256": "<hex SHA-256 of the DER certificate>"} (optional pin)
      ],
      "verifiers": [
        {"client_id": "x509_san_dns:verifier.example" | "https://rp.example" | ...,  (required)
         "name": "Example Employer",                                   (optional)
         "x509_sha256": "<hex SHA-256 of the DER leaf certificate>"}  (optional pin)
      ]
    }

Matching rules (fail closed):
- an issuer is trusted when some entry has its exact ``id`` and either carries no pins (it then
  trusts whatever key the format layer *bound to that identifier*: DID resolution, issuer metadata,
  an ``x5c`` chain naming it) or one of its pins matches the key/certificate presented. Callers
  whose key is self-asserted (a header ``jwk``) pass ``require_pin=True``;
- several entries may share an ``id`` (key rotation); a matching pin in any of them suffices;
- a verifier is trusted when some entry has its exact ``client_id`` and, if it has ``x509_sha256``,
  the certificate presented hashes to it.
Hex fingerprints may be upper- or lower-case and may contain ``:`` separators.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wallet.errors import SatchelError, TrustListError
from wallet.jose import jwk_thumbprint

__all__ = ["IssuerEntry", "TrustList", "TrustListError", "VerifierEntry"]

_MAX_FILE = 4 << 20
_B64URL_SHA256 = re.compile(r"[A-Za-z0-9_-]{43}")
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class IssuerEntry:
    id: str
    name: str | None = None
    jwk_thumbprint: str | None = None
    certificate_sha256: str | None = None

    @property
    def pinned(self) -> bool:
        return self.jwk_thumbprint is not None or self.certificate_sha256 is not None


@dataclass(frozen=True, slots=True)
class VerifierEntry:
    client_id: str
    name: str | None = None
    x509_sha256: str | None = None


def _hex_sha256(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise TrustListError(f"{where} must be a hex SHA-256 string")
    norm = value.replace(":", "").strip().lower()
    if not _HEX_SHA256.fullmatch(norm):
        raise TrustListError(f"{where} must be 64 hex digits (SHA-256)")
    return norm


def _opt_str(entry: Mapping[str, Any], key: str, where: str) -> str | None:
    v = entry.get(key)
    if v is None:
        return None
    if not isinstance(v, str) or not v.strip():
        raise TrustListError(f"{where}.{key} must be a non-empty string")
    return v


def _entries(doc: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = doc.get(key, [])
    if not isinstance(items, list) or not all(isinstance(e, dict) for e in items):
        raise TrustListError(f"trust list '{key}' must be an array of objects")
    return items


def _issuer(entry: Mapping[str, Any], where: str) -> IssuerEntry:
    unknown = set(entry) - {"id", "name", "jwk_thumbprint", "certificate_sha256"}
    if unknown:
        raise TrustListError(f"{where} has unknown members: {', '.join(sorted(unknown))}")
    ident = _opt_str(entry, "id", where)
    if ident is None:
        raise TrustListError(f"{where}.id is required")
    thumb = _opt_str(entry, "jwk_thumbprint", where)
    if thumb is not None and not _B64URL_SHA256.fullmatch(thumb):
        raise TrustListError(f"{where}.jwk_thumbprint must be a base64url SHA-256 thumbprint")
    cert = entry.get("certificate_sha256")
    return IssuerEntry(ident, _opt_str(entry, "name", where), thumb,
                       None if cert is None else _hex_sha256(cert, f"{where}.certificate_sha256"))


def _verifier(entry: Mapping[str, Any], where: str) -> VerifierEntry:
    unknown = set(entry) - {"client_id", "name", "x509_sha256"}
    if unknown:
        raise TrustListError(f"{where} has unknown members: {', '.join(sorted(unknown))}")
    client_id = _opt_str(entry, "client_id", where)
    if client_id is None:
        raise TrustListError(f"{where}.client_id is required")
    pin = entry.get("x509_sha256")
    return VerifierEntry(client_id, _opt_str(entry, "name", where),
                         None if pin is None else _hex_sha256(pin, f"{where}.x509_sha256"))


class TrustList:
    """Immutable after loading; share one instance (it holds no secrets)."""

    def __init__(self, issuers: tuple[IssuerEntry, ...] = (),
                 verifiers: tuple[VerifierEntry, ...] = ()) -> None:
        self.issuers = issuers
        self.verifiers = verifiers
        self._by_issuer: dict[str, list[IssuerEntry]] = {}
        for ie in issuers:
            self._by_issuer.setdefault(ie.id, []).append(ie)
        self._by_client: dict[str, list[VerifierEntry]] = {}
        for ve in verifiers:
            self._by_client.setdefault(ve.client_id, []).append(ve)

    @classmethod
    def empty(cls) -> TrustList:
        """The list used when ``SATCHEL_TRUST_LIST`` is not set: it trusts nobody."""
        return cls()

    @classmethod
    def from_dict(cls, doc: object) -> TrustList:
        if not isinstance(doc, dict):
            raise TrustListError("trust list must be a JSON object")
        unknown = set(doc) - {"issuers", "verifiers", "comment"}
        if unknown:
            raise TrustListError(f"trust list has unknown members: {', '.join(sorted(unknown))}")
        issuers = tuple(_issuer(e, f"issuers[{i}]") for i, e in enumerate(_entries(doc, "issuers")))
        verifiers = tuple(_verifier(e, f"verifiers[{i}]")
                          for i, e in enumerate(_entries(doc, "verifiers")))
        return cls(issuers, verifiers)

    @classmethod
    def load_optional(cls, path: Path | str | None) -> TrustList:
        """:meth:`load` when ``SATCHEL_TRUST_LIST`` names a file, :meth:`empty` when it is unset."""
        return cls.empty() if path is None or str(path) == "" else cls.load(path)

    @classmethod
    def load(cls, path: Path | str) -> TrustList:
        """Read and validate the file; :class:`TrustListError` with a clear reason otherwise."""
        p = Path(path)
        try:
            if p.stat().st_size > _MAX_FILE:
                raise TrustListError(f"trust list {p} is larger than 4 MiB")
            doc = json.loads(p.read_bytes())
        except OSError as exc:
            raise TrustListError(f"trust list {p} cannot be read: {exc.strerror}") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise TrustListError(f"trust list {p} is not valid JSON: {exc}") from exc
        try:
            return cls.from_dict(doc)
        except TrustListError as exc:
            raise TrustListError(f"trust list {p}: {exc.detail}") from exc

    # -- questions ---------------------------------------------------------------------------
    def issuer_trusted(self, issuer: str, *, jwk: Mapping[str, Any] | None = None,
                       cert_der: bytes | None = None, require_pin: bool = False) -> bool:
        """Does the list vouch for ``issuer`` using this key / certificate? (See module doc.)"""
        entries = self._by_issuer.get(issuer, [])
        if not entries:
            return False
        thumb: str | None = None
        if jwk is not None:
            try:
                thumb = jwk_thumbprint(jwk)
            except (SatchelError, KeyError, TypeError):
                thumb = None
        cert_hash = hashlib.sha256(cert_der).hexdigest() if cert_der is not None else None
        for e in entries:
            if not e.pinned:
                if not require_pin:
                    return True
                continue
            if e.jwk_thumbprint is not None and thumb is not None and thumb == e.jwk_thumbprint:
                return True
            if e.certificate_sha256 is not None and cert_hash == e.certificate_sha256:
                return True
        return False

    def issuer_name(self, issuer: str) -> str | None:
        """The display name the list gives ``issuer`` (None when unlisted or unnamed)."""
        return next((e.name for e in self._by_issuer.get(issuer, []) if e.name), None)

    def verifier_trusted(self, client_id: str, *, cert_der: bytes | None = None) -> bool:
        entries = self._by_client.get(client_id, [])
        cert_hash = hashlib.sha256(cert_der).hexdigest() if cert_der is not None else None
        return any(e.x509_sha256 is None or e.x509_sha256 == cert_hash for e in entries)

    def verifier_name(self, client_id: str) -> str | None:
        return next((e.name for e in self._by_client.get(client_id, []) if e.name), None)
