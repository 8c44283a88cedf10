"""Parsing the SD-JWT serialization, without trusting anything (RFC 9901 §4, §4.2).

https://www.rfc-editor.org/rfc/rfc9901#section-4

``<Issuer-signed JWT>~<Disclosure 1>~...~<Disclosure N>~[<KB-JWT>]``, or the JWS JSON
Serialization of §8 (flattened or general: the Disclosures and the KB-JWT in the unprotected
header of the first signature, which is the one verified and the one ``sd_hash`` covers; further
signatures are not checked and count for nothing). Parsing is separate from
verification (the Authlib way): :class:`UnverifiedSdJwt` holds the pieces, every Disclosure already
decoded *strictly* (§4.2.1: ``[salt, name, value]``, §4.2.2: ``[salt, value]``; salt and name are
strings; ``_sd`` and ``...`` are forbidden names), so the verifier only ever sees well-formed ones.
Pure: no I/O.
"""

from __future__ import annotations

import binascii
import json
import json.scanner
import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat
from typing import Any, NamedTuple

from wallet.errors import BadInput
from wallet.formats.sd_jwt.errors import (
    ForbiddenClaimName,
    InvalidDisclosure,
    InvalidIssuerJwt,
    KeyBindingNotAllowed,
    MalformedSdJwt,
)
from wallet.jose import InvalidJws, JwsParts, parse_compact

__all__ = [
    "FORBIDDEN_CLAIM_NAMES",
    "MAX_DISCLOSURES",
    "MAX_SERIALIZED_LENGTH",
    "Disclosure",
    "UnverifiedSdJwt",
    "decode_disclosure",
]

#: Upper bounds for untrusted input; a micro-credential is a few kilobytes.
MAX_SERIALIZED_LENGTH = 1 << 20
MAX_DISCLOSURES = 1024
#: "The claim name MUST NOT be ``_sd`` or ``...``" (RFC 9901 §4.2.1).
FORBIDDEN_CLAIM_NAMES = frozenset({"_sd", "..."})

_B64URL = re.compile(r"[A-Za-z0-9_-]+")
#: What a JSON-serialized SD-JWT starts with (§8); a compact one starts with base64url.
_JSON_START = frozenset("{ \t\r\n")


def _reject_constant(name: str) -> Any:
    raise ValueError("non-standard JSON constant")


#: Strict JSON (no NaN/Infinity), built once: a decoder per call costs more than the decoding.
#: ``_SCAN`` is the decoder's C scanner, called directly for the common case of no surrounding
#: whitespace (it is what ``raw_decode`` calls); anything else goes through ``decode``.
_JSON = json.JSONDecoder(parse_constant=_reject_constant)
_SCAN: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(
    _JSON  # type: ignore[arg-type]
)
_URL_TO_STD = bytes.maketrans(b"-_", b"+/")
#: Padding by length modulo 4 (1 is never valid base64 and gets three, which strict mode refuses).
_PAD = ("", "===", "==", "=")
_new_tuple = tuple.__new__


def _json_text(text: str) -> Any:
    try:
        value, end = _SCAN(text, 0)
    except StopIteration:
        return _JSON.decode(text)
    if end != len(text):
        return _JSON.decode(text)
    return value


class Disclosure(NamedTuple):
    """One decoded Disclosure. ``name`` is ``None`` for an array element (§4.2.2)."""

    encoded: str  # the base64url string exactly as received: digests are computed over it
    salt: str
    name: str | None
    value: Any


def decode_disclosure(encoded: str) -> Disclosure:
    """Decode one Disclosure strictly; raise :class:`InvalidDisclosure` otherwise."""
    if _B64URL.fullmatch(encoded) is None or len(encoded) % 4 == 1:
        raise InvalidDisclosure("disclosure is not base64url")
    try:
        padded = (encoded + "=" * (-len(encoded) % 4)).encode("ascii")
        arr = _json_text(binascii.a2b_base64(padded.translate(_URL_TO_STD)).decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidDisclosure("disclosure is not base64url-encoded JSON") from exc
    if type(arr) is not list or not isinstance(arr[0] if arr else None, str):
        raise InvalidDisclosure("disclosure must be a JSON array starting with a string salt")
    if len(arr) == 3:
        name = arr[1]
        if not isinstance(name, str):
            raise InvalidDisclosure("disclosure claim name must be a string")
        if name in FORBIDDEN_CLAIM_NAMES:
            raise ForbiddenClaimName("disclosure uses a forbidden claim name")
        return Disclosure(encoded, arr[0], name, arr[2])
    if len(arr) == 2:
        return Disclosure(encoded, arr[0], None, arr[1])
    raise InvalidDisclosure("disclosure must have 2 or 3 elements")


def _decode_all(encoded: list[str]) -> tuple[Disclosure, ...]:
    """Every Disclosure of an SD-JWT, as :func:`decode_disclosure` would give them, but faster.

    A fast path does the same checks with less interpreter work (one alphabet check over all
    Disclosures, strict base64 decoding, the JSON scanner mapped over all texts); anything it does
    not accept goes through :func:`decode_disclosure` one by one, which raises the precise error.
    The fast path is never more permissive: a text is accepted only when the scanner consumed all
    of it and the array has the shape §4.2.1/§4.2.2 require.
    """
    fast = _decode_all_fast(encoded)
    if fast is not None:
        return fast
    return tuple([decode_disclosure(d) for d in encoded])


def _decode_all_fast(encoded: list[str]) -> tuple[Disclosure, ...] | None:
    body = "~".join(encoded)  # ASCII already (checked by the caller)
    if "+" in body or "/" in body or "=" in body:
        return None  # not base64url
    try:
        texts = [binascii.a2b_base64((d + _PAD[len(d) & 3]).encode().translate(_URL_TO_STD),
                                     strict_mode=True).decode() for d in encoded]
        # the scanner raises StopIteration for a text that does not start with a JSON value: a
        # map() then just ends early, which the length check below catches
        scanned = list(map(_SCAN, texts, repeat(0)))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        return None
    if len(scanned) != len(texts):
        return None
    out: list[Disclosure] = []
    append = out.append
    for enc, text, (arr, end) in zip(encoded, texts, scanned, strict=True):
        if end != len(text) or type(arr) is not list:
            return None
        if len(arr) == 3:
            salt, name, value = arr
            if type(salt) is not str or type(name) is not str or name in FORBIDDEN_CLAIM_NAMES:
                return None
            append(_new_tuple(Disclosure, (enc, salt, name, value)))
        elif len(arr) == 2 and type(arr[0]) is str:
            append(_new_tuple(Disclosure, (enc, arr[0], None, arr[1])))
        else:
            return None
    return tuple(out)


@dataclass(frozen=True, slots=True)
class UnverifiedSdJwt:
    """An SD-JWT (or SD-JWT+KB) split into its parts; nothing in it is verified yet."""

    serialized: str
    jwt: str  # the Issuer-signed JWT, compact
    jws: JwsParts
    disclosures: tuple[Disclosure, ...]
    kb_jwt: str | None  # None when the serialization ends with "~"
    json_serialized: bool = False  # RFC 9901 §8; ``serialized`` is then the JSON text

    @property
    def header(self) -> dict[str, Any]:
        return self.jws.header

    def unverified_claims(self) -> dict[str, Any]:
        """The Issuer-signed JWT payload, *unverified* (e.g. to read ``iss`` for key lookup)."""
        try:
            return self.jws.claims()
        except RecursionError as exc:
            raise InvalidIssuerJwt("JWT payload is nested too deeply") from exc
        except InvalidJws as exc:
            raise InvalidIssuerJwt(exc.detail, code=exc.code) from exc

    @property
    def presented_prefix(self) -> str:
        """``<JWT>~<D1>~...~<Dn>~``: the string a KB-JWT's ``sd_hash`` covers (§4.3.1); for the
        JSON Serialization, built from its first signature and its ``disclosures`` (§8.1)."""
        if self.json_serialized:
            return "~".join([self.jwt, *(d.encoded for d in self.disclosures)]) + "~"
        if self.kb_jwt is None:
            return self.serialized
        return self.serialized[: len(self.serialized) - len(self.kb_jwt)]

    @classmethod
    def parse(
        cls,
        serialized: str,
        *,
        reject_kb: bool = False,
        max_length: int = MAX_SERIALIZED_LENGTH,
        max_disclosures: int = MAX_DISCLOSURES,
    ) -> UnverifiedSdJwt:
        """Split and decode ``serialized``. ``reject_kb=True`` for what an issuer sends (§4)."""
        if not isinstance(serialized, str):
            raise MalformedSdJwt("SD-JWT must be a string")
        if len(serialized) > max_length:
            raise MalformedSdJwt("SD-JWT is too large")
        if serialized[:1] in _JSON_START:
            return cls._parse_json(serialized, reject_kb=reject_kb, max_length=max_length,
                                   max_disclosures=max_disclosures)
        if not serialized.isascii():
            raise MalformedSdJwt("SD-JWT must be ASCII")
        parts = serialized.split("~")
        if len(parts) < 2:
            raise MalformedSdJwt("SD-JWT must contain '~' separators")
        if len(parts) - 2 > max_disclosures:
            raise MalformedSdJwt("SD-JWT has too many disclosures")
        kb = parts[-1] or None
        if kb is not None and reject_kb:
            raise KeyBindingNotAllowed("an issued SD-JWT must not carry a KB-JWT")
        try:
            jws = parse_compact(parts[0], max_length=max_length)
        except RecursionError as exc:
            raise InvalidIssuerJwt("JWT header is nested too deeply") from exc
        except InvalidJws as exc:
            raise InvalidIssuerJwt(exc.detail, code=exc.code) from exc
        except BadInput as exc:  # pragma: no cover - parse_compact wraps these already
            raise InvalidIssuerJwt("JWT is malformed") from exc
        disclosures = _decode_all(parts[1:-1]) if len(parts) > 2 else ()
        return cls(serialized, parts[0], jws, disclosures, kb)

    @classmethod
    def _parse_json(cls, serialized: str, *, reject_kb: bool, max_length: int,
                    max_disclosures: int) -> UnverifiedSdJwt:
        """The JWS JSON Serialization (§8): flattened, or general with the Disclosures and the
        KB-JWT in the first signature's unprotected header only (§8.3)."""
        try:
            obj = _JSON.decode(serialized)
        except (ValueError, RecursionError) as exc:
            raise MalformedSdJwt("JSON-serialized SD-JWT does not parse") from exc
        if type(obj) is not dict:
            raise MalformedSdJwt("JSON-serialized SD-JWT must be a JSON object")
        signatures = obj.get("signatures")
        if signatures is None:  # flattened (RFC 7515 §7.2.2)
            first, others = obj, []
        elif type(signatures) is list and signatures and "signature" not in obj \
                and all(type(e) is dict for e in signatures):
            first, others = signatures[0], signatures[1:]
        else:
            raise MalformedSdJwt("signatures must be a non-empty array of objects")
        header = first.get("header", {})
        if type(header) is not dict:
            raise MalformedSdJwt("the unprotected header must be a JSON object")
        if any(type(e.get("header", {})) is not dict
               or "disclosures" in e.get("header", {}) or "kb_jwt" in e.get("header", {})
               for e in others):
            raise MalformedSdJwt("disclosures and kb_jwt belong in the first header only")
        protected, payload, signature = (first.get("protected"), obj.get("payload"),
                                         first.get("signature"))
        if not all(type(v) is str and v.isascii() for v in (protected, payload, signature)):
            raise MalformedSdJwt("protected, payload and signature must be base64url strings")
        encoded = header.get("disclosures", [])
        if type(encoded) is not list or not all(type(d) is str and d.isascii() for d in encoded):
            raise MalformedSdJwt("disclosures must be an array of strings")
        if len(encoded) > max_disclosures:
            raise MalformedSdJwt("SD-JWT has too many disclosures")
        kb = header.get("kb_jwt")
        if kb is not None and (type(kb) is not str or not kb):
            raise MalformedSdJwt("kb_jwt must be a non-empty string")
        if kb is not None and reject_kb:
            raise KeyBindingNotAllowed("an issued SD-JWT must not carry a KB-JWT")
        jwt = f"{protected}.{payload}.{signature}"
        try:
            jws = parse_compact(jwt, max_length=max_length)
        except RecursionError as exc:
            raise InvalidIssuerJwt("JWT header is nested too deeply") from exc
        except InvalidJws as exc:
            raise InvalidIssuerJwt(exc.detail, code=exc.code) from exc
        disclosures = _decode_all(encoded) if encoded else ()
        return cls(serialized, jwt, jws, disclosures, kb, json_serialized=True)
