"""JSON Schemas of request and response bodies (used to validate input and in /openapi.json)."""

from __future__ import annotations

from typing import Any

_S = {"type": "string"}

SIGN_UP: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["username", "passphrase"],
    "properties": {"username": {"type": "string", "maxLength": 64},
                   "passphrase": {"type": "string", "maxLength": 1024}},
}
SIGNED_UP: dict[str, Any] = {
    "type": "object", "required": ["learner_id", "recovery_code", "holder_did"],
    "properties": {"learner_id": _S, "recovery_code": _S, "holder_did": _S},
}
SESSION: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["username", "passphrase"],
    "properties": {"username": {"type": "string", "maxLength": 256},
                   "passphrase": {"type": "string", "maxLength": 1024}},
}
TOKEN: dict[str, Any] = {
    "type": "object", "required": ["access_token", "token_type", "expires_in"],
    "properties": {"access_token": _S, "token_type": {"const": "Bearer"},
                   "expires_in": {"type": "integer"}},
}
PASSPHRASE: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["new_passphrase"],
    "properties": {"current_passphrase": {"type": "string", "maxLength": 1024},
                   "recovery_code": {"type": "string", "maxLength": 128},
                   "username": {"type": "string", "maxLength": 256},
                   "new_passphrase": {"type": "string", "maxLength": 1024}},
}
RECOVERY_REQUEST: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["passphrase"],
    "properties": {"passphrase": {"type": "string", "maxLength": 1024}},
}
RECOVERY_CODE: dict[str, Any] = {
    "type": "object", "required": ["recovery_code"], "properties": {"recovery_code": _S},
}
KEYS: dict[str, Any] = {
    "type": "object", "required": ["items"],
    "properties": {"items": {"type": "array", "items": {
        "type": "object", "required": ["id", "alg", "jwk", "did"],
        "properties": {"id": _S, "alg": _S, "jwk": {"type": "object"}, "did": _S}}}},
}
_NULLABLE_S = {"type": ["string", "null"]}
CREDENTIAL_SUMMARY: dict[str, Any] = {
    "type": "object",
    "required": ["id", "format", "type", "issuer", "title", "issued_at", "expires_at", "status"],
    "properties": {"id": _S, "format": _S, "type": _NULLABLE_S, "types": {"type": "array"},
                   "issuer": _S, "title": _NULLABLE_S, "issued_at": _NULLABLE_S,
                   "expires_at": _NULLABLE_S, "status": _S, "added_at": _NULLABLE_S},
}
CREDENTIAL_LIST: dict[str, Any] = {
    "type": "object", "required": ["items", "next_cursor"],
    "properties": {"items": {"type": "array", "items": CREDENTIAL_SUMMARY},
                   "next_cursor": _NULLABLE_S},
}
CREDENTIAL_DETAIL: dict[str, Any] = {
    "type": "object",
    "required": [*CREDENTIAL_SUMMARY["required"], "raw", "claims", "disclosable", "elements",
                 "verification"],
    "properties": {
        **CREDENTIAL_SUMMARY["properties"],
        "raw": _S, "claims": {"type": "object"},
        "disclosable": {"type": "array", "items": {"type": "array"}},
        "elements": {"type": ["object", "null"]},
        "verification": {"type": "object", "required": ["signature", "issuer_trusted", "status",
                                                        "checked_at"]},
    },
}
CREDENTIAL_IMPORT: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["raw"],
    "properties": {"raw": {"type": "string", "minLength": 1, "maxLength": 900_000}},
}
HEALTH: dict[str, Any] = {"type": "object", "required": ["status"], "properties": {"status": _S}}
PORTFOLIO: dict[str, Any] = {
    "type": "object", "required": ["credentials", "total_ects", "by_eqf_level", "stacks"],
    "properties": {"credentials": {"type": "array"}, "total_ects": {"type": "number"},
                   "by_eqf_level": {"type": "object"}, "stacks": {"type": "array"}},
}
