"""Tell which credential format a received string is, before choosing a checker.

Format identifiers: OpenID4VCI 1.0 Appendix A (``jwt_vc_json`` A.1.1, ``ldp_vc`` A.1.2,
``dc+sd-jwt`` A.3); RFC 9901 §4 (an SD-JWT is ``<JWS>~<disclosure>~…~``: it always contains ``~``);
draft-ietf-oauth-sd-jwt-vc §3.2.1 (``typ`` ``dc+sd-jwt``, legacy ``vc+sd-jwt``); RFC 7515 §7.1
(compact JWS: three base64url parts) and §7.2 (JWS JSON serialization, used by JAdES seals).

Why: a learner uploads or an issuer returns "a credential"; the import dispatcher must route it to
the one module that understands it and refuse anything else with
:class:`~wallet.errors.UnsupportedFormat`, without verifying anything here.
"""

from __future__ import annotations

import json
import re
from typing import Any

from wallet.errors import BadInput, UnsupportedFormat
from wallet.formats.model import CredentialFormat
from wallet.jose import b64url_decode
from wallet.jsontext import parse_json

__all__ = ["detect_format"]

_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_MAX = 4 * 1024 * 1024


def _segment_json(segment: str) -> dict[str, Any] | None:
    if not _B64URL.fullmatch(segment):
        return None
    try:
        value = json.loads(b64url_decode(segment))
    except (BadInput, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _compact_header(token: str) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]) or (parts[2] and not _B64URL.fullmatch(parts[2])):
        return None
    header = _segment_json(parts[0])
    if header is None or not isinstance(header.get("alg"), str):
        return None
    return header, _segment_json(parts[1])


def _json_serialized_sd_jwt(obj: dict[str, Any]) -> CredentialFormat | None:
    """RFC 9901 §8: an SD-JWT in JWS JSON serialization carries ``disclosures`` in the
    unprotected header (and its ``typ`` says so)."""
    entries = obj.get("signatures")
    entry = entries[0] if isinstance(entries, list) and entries else obj
    if not isinstance(entry, dict):
        return None
    header = entry.get("header")
    protected = entry.get("protected")
    typ = None
    if isinstance(protected, str):
        parsed = _segment_json(protected)
        typ = parsed.get("typ") if parsed is not None else None
    if typ == "vc+sd-jwt":
        return "vc+sd-jwt"
    if typ == "dc+sd-jwt" or (isinstance(header, dict) and "disclosures" in header):
        return "dc+sd-jwt"
    return None


def detect_format(raw: str) -> CredentialFormat:
    """``dc+sd-jwt`` / ``vc+sd-jwt`` / ``jwt_vc_json`` / ``ldp_vc``, or UnsupportedFormat."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > _MAX:
        raise UnsupportedFormat("credential must be non-empty text of bounded size")
    text = raw.strip()
    if text.startswith("{"):
        obj = parse_json(text, UnsupportedFormat("JSON credential does not parse"))
        if isinstance(obj, dict) and isinstance(obj.get("payload"), str) and (
                "signatures" in obj or "signature" in obj):
            sd_jwt = _json_serialized_sd_jwt(obj)
            return sd_jwt if sd_jwt is not None else "ldp_vc"  # JAdES (EDC)
        if isinstance(obj, dict) and "@context" in obj:
            return "ldp_vc"
        raise UnsupportedFormat("JSON is neither a JSON-LD credential nor a JWS JSON object")
    if "~" in text:
        parsed = _compact_header(text.split("~", 1)[0])
        if parsed is None:
            raise UnsupportedFormat("SD-JWT does not start with a compact JWS")
        typ = parsed[0].get("typ")
        return "vc+sd-jwt" if typ == "vc+sd-jwt" else "dc+sd-jwt"
    parsed = _compact_header(text)
    if parsed is not None:
        header, payload = parsed
        typ = header.get("typ")
        if isinstance(typ, str) and typ.lower() in ("dc+sd-jwt", "vc+sd-jwt"):
            return "dc+sd-jwt"  # an SD-JWT with no disclosures and the ``~`` lost
        if payload is not None and (isinstance(payload.get("vc"), dict) or "@context" in payload):
            return "jwt_vc_json"
    raise UnsupportedFormat("not a credential format Satchel understands")
