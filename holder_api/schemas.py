"""JSON Schemas of request and response bodies (used to validate input and in /openapi.json)."""

from __future__ import annotations

from typing import Any

from consent.events import EventKind

_S = {"type": "string"}

#: The schemas state every rule a request is checked against that a schema can state; what is
#: left is judged by the server with its own problem code: ``weak_passphrase`` (a common word,
#: too few different characters), ``invalid_cursor`` (a cursor not handed out here), and the
#: content of credentials, offers, bundles and OpenID4VP requests.
USERNAME: dict[str, Any] = {
    "type": "string", "minLength": 3, "maxLength": 64,
    "pattern": "^[A-Za-z0-9][A-Za-z0-9._@+-]{2,63}$",
    "description": "3-64 characters: letters, digits and . _ @ + - (not first)"}
NEW_PASSPHRASE: dict[str, Any] = {
    "type": "string", "minLength": 12, "maxLength": 1024,
    "description": "12-1024 characters; refused with 400 weak_passphrase when it is still easy "
                   "to guess (fewer than 12 characters once NFKC-normalised, fewer than 5 "
                   "different characters, only digits, a common word, a simple sequence)"}
#: a passphrase that opens something (its strength was checked when it was set)
PASSPHRASE_GIVEN: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 1024}
#: Some character that is not white space. The class is spelled out, one meaning for every
#: regex engine: ECMA-262's ``\\s`` (what JSON Schema's ``pattern`` means) and Python's ``\\s``
#: or ``str.strip()`` differ (U+001C-U+001F, U+0085, U+FEFF).
NOT_ONLY_SPACE = ("[^\\t\\n\\v\\f\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f"
                  "\\u205f\\u3000\\ufeff]")
#: The ids Satchel hands out (a UUID, RFC 9562): an id of another form names nothing, and never
#: reaches a database (PostgreSQL refuses text with NUL as an encoding error, not as "no such").
UUID_ID: dict[str, Any] = {
    "type": "string", "minLength": 36, "maxLength": 36,
    "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"}
CURSOR: dict[str, Any] = {
    "type": "string", "minLength": 1, "maxLength": 512, "pattern": "^[A-Za-z0-9_-]+$",
    "description": "opaque: the next_cursor of the previous page (400 invalid_cursor otherwise)"}

SIGN_UP: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["username", "passphrase"],
    "properties": {"username": USERNAME, "passphrase": NEW_PASSPHRASE},
}
SIGNED_UP: dict[str, Any] = {
    "type": "object", "required": ["learner_id", "recovery_code", "holder_did"],
    "properties": {"learner_id": _S, "recovery_code": _S, "holder_did": _S},
}
SESSION: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["username", "passphrase"],
    "properties": {"username": {"type": "string", "maxLength": 256},
                   "passphrase": PASSPHRASE_GIVEN},
}
TOKEN: dict[str, Any] = {
    "type": "object", "required": ["access_token", "token_type", "expires_in"],
    "properties": {"access_token": _S, "token_type": {"const": "Bearer"},
                   "expires_in": {"type": "integer"}},
}
PASSPHRASE: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["new_passphrase"],
    "description": "Exactly one of current_passphrase (with a token) or recovery_code (with a "
                   "token, or with username and no token: 401 otherwise).",
    "properties": {"current_passphrase": {"type": "string", "maxLength": 1024},
                   "recovery_code": {"type": "string", "maxLength": 128},
                   "username": {"type": "string", "maxLength": 256},
                   "new_passphrase": NEW_PASSPHRASE},
    "oneOf": [{"required": ["current_passphrase"]}, {"required": ["recovery_code"]}],
}
RECOVERY_REQUEST: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["passphrase"],
    "properties": {"passphrase": {"type": "string", "maxLength": 1024}},
}
RECOVERY_CODE: dict[str, Any] = {
    "type": "object", "required": ["recovery_code"], "properties": {"recovery_code": _S},
}
RECOVERED: dict[str, Any] = {
    "type": "object", "required": ["recovery_code", *TOKEN["required"]],
    "properties": {**RECOVERY_CODE["properties"], **TOKEN["properties"]},
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
                   "expires_at": _NULLABLE_S, "status": _S, "added_at": _NULLABLE_S,
                   "awarding_body": {
                       "type": ["string", "null"],
                       "description": "the Annex I awarding body's name (null: not known, e.g. "
                                      "a credential stored before this field existed)"},
                   "verified": {
                       "type": ["string", "null"],
                       "description": "the import checks in one word: trusted (valid signature, "
                                      "trusted issuer), untrusted (valid signature, issuer not "
                                      "trusted), otherwise the signature result (no_key, "
                                      "unsupported, ...); null: not recorded"}},
}


def _page_of(item: dict[str, Any]) -> dict[str, Any]:
    """A page of a paged list (docs/http-api.md, "Conventions"): its items, and the cursor of
    the next page (``null`` on the last)."""
    return {"type": "object", "required": ["items", "next_cursor"],
            "properties": {"items": {"type": "array", "items": item},
                           "next_cursor": _NULLABLE_S}}


CREDENTIAL_LIST = _page_of(CREDENTIAL_SUMMARY)
CREDENTIAL_DETAIL: dict[str, Any] = {
    "type": "object",
    "required": [*CREDENTIAL_SUMMARY["required"], "raw", "claims", "disclosable", "elements",
                 "verification"],
    "properties": {
        **CREDENTIAL_SUMMARY["properties"],
        "raw": _S, "claims": {"type": "object"},
        "disclosable": {"type": "array", "items": {"type": "array"}},
        "elements": {"type": ["object", "null"]},
        "verification": {
            "type": "object",
            "required": ["signature", "issuer_trusted", "status", "checked_at"],
            "properties": {
                "signature": {"enum": ["valid", "invalid", "no_key", "unsupported"]},
                "issuer_trusted": {"type": "boolean"},
                "status": {"enum": ["valid", "invalid", "suspended", "unknown", "none"]},
                "checked_at": _NULLABLE_S,
                "key_source": _NULLABLE_S,
                "problems": {
                    "type": "array", "items": _S,
                    "description": "machine-readable findings, e.g. issuer_key_self_asserted "
                                   "(the key came with the credential: a valid signature, but "
                                   "not shown to be the issuer's), status_list_not_from_issuer, "
                                   "verification_method_not_issuer (docs/presenting.md)"},
                "pdf": {"type": "object",
                        "description": "format pdf: the verdict and every signature (integrity, "
                                       "modification, docmdp, chain, signed_at; README "
                                       "\"Signed PDF credentials\")"},
                "attached_to": {**_S, "description": "the id of the PDF credential this one "
                                                     "was attached to"},
            },
        },
    },
}
CREDENTIAL_IMPORT: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["raw"],
    "properties": {"raw": {"type": "string", "minLength": 1, "maxLength": 900_000}},
}
#: A PDF file as a body (request or response), byte for byte.
PDF: dict[str, Any] = {"type": "string", "format": "binary"}
HEALTH: dict[str, Any] = {"type": "object", "required": ["status"], "properties": {"status": _S}}
PORTFOLIO: dict[str, Any] = {
    "type": "object", "required": ["credentials", "total_ects", "by_eqf_level", "stacks"],
    "properties": {"credentials": {"type": "array"}, "total_ects": {"type": "number"},
                   "by_eqf_level": {"type": "object"}, "stacks": {"type": "array"}},
}

# -- receiving: OpenID4VCI offers and inbox links (holder_api/routes/receive.py) ------------------
_ACCEPT_PROPS: dict[str, Any] = {
    "tx_code": {"type": "string", "minLength": 1, "maxLength": 64},
    "copies": {"type": "integer", "minimum": 1, "maximum": 16},
    "redirect_uri": {"type": "string", "pattern": "^https?://", "maxLength": 2048},
}
OFFER_CREATE: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["offer"],
    "properties": {"offer": {"oneOf": [{"type": "string", "minLength": 1, "maxLength": 65_536},
                                       {"type": "object"}]}},
}
OFFER: dict[str, Any] = {
    "type": "object", "required": ["id", "status", "issuer", "credentials"],
    "properties": {
        "id": _S, "status": _S, "created_at": _NULLABLE_S, "retry_after": {"type": "integer"},
        "issuer": {"type": "object", "required": ["id", "name", "trusted"],
                   "properties": {"id": _S, "name": _S, "trusted": {"type": "boolean"}}},
        "credentials": {"type": "array", "items": {
            "type": "object", "required": ["configuration_id", "format", "name"],
            "properties": {"configuration_id": _S, "format": _S, "name": _S}}},
        "tx_code": {"type": "object", "properties": {
            "length": {"type": "integer"}, "input_mode": {"enum": ["numeric", "text"]},
            "description": _S}},
    },
}
OFFER_LIST: dict[str, Any] = {"type": "object", "required": ["items"],
                              "properties": {"items": {"type": "array", "items": OFFER}}}
OFFER_ACCEPT: dict[str, Any] = {"type": "object", "additionalProperties": False,
                                "properties": _ACCEPT_PROPS}
OFFER_AUTHORIZATION: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["callback_url"],
    "properties": {"callback_url": {"type": "string", "minLength": 1, "maxLength": 8192}},
}
ACCEPTED: dict[str, Any] = {
    "type": "object",
    "properties": {"credentials": {"type": "array", "items": CREDENTIAL_DETAIL},
                   "status": {"enum": ["authorization_required"]},
                   "authorization_url": _S, "redirect_uri": _S, "offer_id": _S},
}
ACCEPT_DEFERRED: dict[str, Any] = {
    "type": "object", "required": ["status"],
    "properties": {"status": {"const": "deferred"}, "offer_id": _S,
                   "retry_after": {"type": "integer"},
                   "credentials": {"type": "array", "items": CREDENTIAL_DETAIL},
                   # a poll that received some credentials and then failed for the rest: what
                   # it would have answered had nothing arrived (the rest stays pending)
                   "problem": {"type": "object", "required": ["status", "code"],
                               "properties": {"status": {"type": "integer"}, "code": _S,
                                              "detail": _S}}},
}
INBOX_LINK_CREATE: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["label"],
    "properties": {"label": {"type": "string", "minLength": 1, "maxLength": 200,
                             "pattern": NOT_ONLY_SPACE,
                             "description": "1-200 characters, not only white space"}},
}
INBOX_LINK: dict[str, Any] = {
    "type": "object", "required": ["id", "url"],
    "properties": {"id": _S, "url": _S, "label": _S, "created_at": _S},
}
INBOX_LINK_LIST: dict[str, Any] = {
    "type": "object", "required": ["items"],
    "properties": {"items": {"type": "array", "items": {
        "type": "object", "required": ["id", "label", "created_at"],
        "properties": {"id": _S, "label": _NULLABLE_S, "created_at": _NULLABLE_S}}}},
}
INBOX_LIST: dict[str, Any] = {
    "type": "object", "required": ["items"],
    "properties": {"items": {"type": "array", "items": {
        "type": "object", "required": ["id", "kind", "from", "received_at"],
        "properties": {"id": _S, "kind": {"enum": ["offer", "credential"]},
                       "from": _NULLABLE_S, "issuer": _NULLABLE_S, "link_id": _S,
                       "received_at": _S}}}},
}
PUSH: dict[str, Any] = {
    "type": "object",
    "properties": {"credential": {"oneOf": [{"type": "string"}, {"type": "object"}]},
                   "credential_offer": _S, "credential_offer_uri": _S},
}
PUSH_ACCEPTED: dict[str, Any] = {"type": "object", "required": ["status"],
                                 "properties": {"status": {"const": "accepted"}}}
# -- end receiving
# --- presenting (OpenID4VP) and share links ------------------------------------------------------
_CLAIM_PATH: dict[str, Any] = {
    "type": "array", "minItems": 1, "maxItems": 32,
    "items": {"type": ["string", "integer", "null"], "maxLength": 256, "minimum": 0}}
PRESENTATION_REQUEST_IN: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["request"],
    "properties": {"request": {
        "type": "string", "minLength": 2, "maxLength": 65536,
        "pattern": "^[A-Za-z][A-Za-z0-9+.-]*:",
        "description": "the authorization request link (openid4vp://, haip://, https://...); "
                       "its content is judged as OpenID4VP says (400 invalid_request ...)"}},
}
_VERIFIER: dict[str, Any] = {
    "type": "object", "required": ["client_id", "name", "authenticated", "trusted"],
    "properties": {"client_id": _S, "name": _S, "authenticated": {"type": "boolean"},
                   "trusted": {"type": "boolean"}, "name_source": _S, "prefix": _S,
                   "response_uri": _S,
                   "names": {"type": "object", "additionalProperties": _S,
                             "description": "the verifier's own name in other languages, by "
                                            "BCP 47 tag (client_name#<tag> of its metadata)"}},
}
PRESENTATION_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["id", "verifier", "purpose", "satisfiable", "queries"],
    "properties": {
        "id": _S, "verifier": _VERIFIER, "purpose": _NULLABLE_S,
        "satisfiable": {"type": "boolean"}, "state": _S, "expires_at": _S,
        "credential_sets": {"type": "array"},
        "queries": {"type": "array", "items": {
            "type": "object", "required": ["id", "required", "options"],
            "properties": {
                "id": _S, "required": {"type": "boolean"}, "format": _S,
                "multiple": {"type": "boolean"}, "matched": {"type": "boolean"},
                "reason": {"enum": ["pdf_not_presentable"],
                           "description": "why an unmatched query found nothing: only a PDF "
                                          "credential fits, and OpenID4VP cannot carry a PDF"},
                "reason_detail": _S,
                "pdf_credential_ids": {"type": "array", "items": _S},
                "options": {"type": "array", "items": {
                    "type": "object", "required": ["credential_id", "claims"],
                    "properties": {"credential_id": _S, "full_credential": {"type": "boolean"},
                                   "whole_credential": {
                                       "type": "boolean",
                                       "description": (
                                           "true for formats that cannot disclose selectively "
                                           "(jwt_vc_json, ldp_vc): the whole credential is "
                                           "sent; claims lists what the query asked for")},
                                   "claims": {"type": "array", "items": {
                                       "type": "object", "required": ["path", "value"],
                                       "properties": {"path": {"type": "array"}, "value": {}}}}}}},
            }}},
    },
}
PRESENTATION_REQUEST_LIST = _page_of({"type": "object"})
_ID_S: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 256}
RESPOND: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["choices"],
    "properties": {
        "choices": {"type": "object", "maxProperties": 64, "additionalProperties": {
            "oneOf": [_ID_S, {"type": "array", "minItems": 1, "maxItems": 64, "items": _ID_S}]}},
        "withhold": {"type": "object", "maxProperties": 64, "additionalProperties": {
            "type": "array", "maxItems": 256, "items": _CLAIM_PATH}},
        "drop_optional": {"type": "boolean"},
    },
}
_RECEIPT_ID: dict[str, Any] = {
    **_S, "description": "the answer's consent ledger entry: GET /v1/consent/receipts/{event_id}"}
RESPONDED: dict[str, Any] = {
    "type": "object", "required": ["status"],
    "properties": {"status": {"const": "sent"}, "redirect_uri": _S, "event_id": _RECEIPT_ID},
}
DECLINED: dict[str, Any] = {
    "type": "object", "required": ["status"],
    "properties": {"status": {"const": "declined"}, "delivered": {"type": "boolean"},
                   "event_id": _RECEIPT_ID},
}
SHARE_LINK_IN: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["credential_id", "claims"],
    "properties": {"credential_id": _ID_S,
                   "claims": {
                       "type": "array", "minItems": 1, "maxItems": 256,
                       "items": {**_CLAIM_PATH, "minItems": 0},
                       "description": (
                           "Claim paths to disclose. SD-JWT VC: selectively disclosable claims "
                           "(non-empty paths). jwt_vc_json and ldp_vc cannot disclose "
                           "selectively and are shared whole: claims must be exactly [[]] (the "
                           "empty path, the credential's root); anything else is a 400 "
                           "whole_credential_only problem.")},
                   "expires_in": {"type": "integer", "minimum": 60, "maximum": 7776000},
                   "max_views": {"type": "integer", "minimum": 1, "maximum": 1000}},
}
SHARE_LINK: dict[str, Any] = {
    "type": "object", "required": ["id", "url"],
    "properties": {"id": _S, "url": _S, "expires_at": _S, "max_views": {"type": "integer"}},
}
SHARE_LINK_LIST = _page_of({"type": "object"})
SHARE_VIEW: dict[str, Any] = {
    "type": "object", "required": ["presentation", "verified", "claims"],
    "properties": {"presentation": _S, "verified": {
        "type": "object", "description": "the view's offline check (see the operation)",
        "properties": {
            "signature": _NULLABLE_S, "key_binding": _S, "checked_at": _S,
            "issuer_trusted": {"type": ["boolean", "null"]},
            "problems": {"type": "array", "items": _S,
                         "description": "machine-readable findings, e.g. "
                                        "issuer_key_self_asserted (the credential supplied the "
                                        "key that signed it: the issuer is not confirmed)"},
            "key_source": {**_NULLABLE_S, "description": "whole credentials: how the key that "
                                                         "verified the credential was found"},
            "issuer_key": {"enum": ["issuer", "self_asserted", "not_issuer", "unknown"],
                           "description": "whole credentials: whose key signed"},
            "document": {"const": "pdf", "description": "a PDF credential's link"},
            "modification": {"enum": ["none", "signature_maintenance", "form_filling",
                                      "annotations", "other"],
                             "description": "PDF links: what changed after signing"},
            "issuer_confirmed": {"type": "boolean",
                                 "description": "whole credentials: a valid signature by the "
                                                "issuer's own key, or a trusted one"}}},
                   "claims": {"type": "object"}, "credential": {"type": "object"},
                   "expires_at": _S, "views_left": {"type": "integer"},
                   "raw": {**_S, "description": "whole-credential links only: the credential's "
                                                "original text, byte for byte"},
                   "document_url": {**_S, "description": "PDF credentials only: where the "
                                                         "signed original is served"},
                   "verdict": {
                       "type": "object", "required": ["verified", "explanation",
                                                      "issuer_confirmed"],
                       "description": "the decision drawn from `verified`, the same one the "
                                      "HTML page shows",
                       "properties": {
                           "verified": {"type": "boolean"}, "explanation": _S,
                           "issuer_confirmed": {
                               "type": "boolean",
                               "description": "the named issuer is shown to have signed (the "
                                              "page says 'Issued by'; else it only names it)"}}}},
}

# -- the consent ledger and the learner's rights (holder_api/routes/consent.py) ------------------

PASSPHRASE_ONLY: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["passphrase"],
    "properties": {"passphrase": PASSPHRASE_GIVEN},
}
EXPORT_PASSPHRASE: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["passphrase"],
    "properties": {"passphrase": {**NEW_PASSPHRASE,
                                  "description": "seals the keys in the bundle; "
                                                 + NEW_PASSPHRASE["description"]}},
}
#: the ledger's event kinds (what an event says, what the list filters by)
EVENT_KINDS: list[str] = [k.value for k in EventKind]
LEDGER_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["id", "at", "kind", "counterparty", "purpose", "claims", "credential_ids", "hash"],
    "properties": {"id": _S, "seq": {"type": "integer"}, "at": _S,
                   "kind": {"type": "string", "enum": EVENT_KINDS},
                   "counterparty": _NULLABLE_S, "counterparty_name": _NULLABLE_S, "purpose": _NULLABLE_S,
                   "legal_basis": _NULLABLE_S, "claims": {"type": "array", "items": {"type": "array"}},
                   "credential_ids": {"type": "array", "items": _S},
                   "data_categories": {"type": "array", "items": _S},
                   "inbox_item_id": {
                       "type": ["string", "null"],
                       "description": "the inbox item the entry is about: its arrival "
                                      "(inbox_item_received), its expiry, and its acceptance "
                                      "(credential_received, credential_accepted) or decline "
                                      "(credential_declined) carry the same id"},
                   "hash": _S,
                   "imported": {"type": "boolean",
                                "description": "taken over from an exported chain (an import)"},
                   "learner_asserted": {
                       "type": "boolean",
                       "description": "imported on the learner's word: nothing this service "
                                      "holds binds its contents (a bundle from another "
                                      "deployment, or without a manifest); no receipt of this "
                                      "service asserts it"}},
}
#: an entry a newer release wrote that this one cannot interpret (docs/consent.md, "Entries from
#: a newer release"): beside the page's items, never one of them, so their kind enum stays true
NEWER_RELEASE_ENTRY: dict[str, Any] = {
    "type": "object", "required": ["id", "seq", "at", "kind_as_stored", "hash"],
    "description": "an entry a newer release of the service wrote (during a rolling upgrade) "
                   "that this one cannot interpret: its kind, or its body, is newer. Its hash "
                   "checks and the chain verifies with it; a replica of the newer release lists "
                   "it in items",
    "properties": {"id": _S, "seq": {"type": "integer"}, "at": _S,
                   "kind_as_stored": {"type": "string",
                                      "description": "the entry's kind as stored: possibly "
                                                     "none of the kinds items use"},
                   "hash": _S},
}
LEDGER_EVENTS = _page_of(LEDGER_EVENT)
LEDGER_EVENTS["properties"]["newer_release_entries"] = {
    "type": "array", "items": NEWER_RELEASE_ENTRY,
    "description": "the entries of this page's range (by seq, newest first) that a newer "
                   "release wrote and this one cannot interpret, not in items; usually empty"}
CHAIN_REPORT: dict[str, Any] = {
    "type": "object", "required": ["valid", "length", "head"],
    "properties": {"valid": {"type": "boolean"}, "length": {"type": "integer"}, "head": _S,
                   "head_ok": {"type": "boolean"},
                   "first_bad_seq": {"type": ["integer", "null"]},
                   "first_bad": {"type": ["object", "null"]}, "reason": _NULLABLE_S,
                   "staged_pending": {
                       "type": ["integer", "null"], "minimum": 0,
                       "description": "entries staged in the vault's ledger outbox, not in the "
                                      "chain yet (null: the vault did not answer)"},
                   "catch_up_error": {
                       "type": "string", "description": "why moving them in failed (an error "
                                                       "code); the chain is verified as it stands"},
                   "learner_asserted_entries": {
                       "type": ["integer", "null"], "minimum": 0,
                       "description": "entries of the chain taken over on the learner's word "
                                      "(imports this service could not verify); the chain's "
                                      "integrity (valid) does not vouch for what they say "
                                      "(null: not known)"},
                   "imports": {
                       "type": ["array", "null"],
                       "description": "the chain takeovers in this ledger (null: not known)",
                       "items": {"type": "object", "properties": {
                           "event_id": _S, "seq": {"type": "integer"},
                           "entries": {"type": "integer"},
                           "learner_asserted": {"type": "integer"},
                           "attestation": {
                               "enum": ["this_service", "another_bundle",
                                        "another_service", "unknown_key", "none",
                                        "unrecorded"],
                               "description": "whose signed manifest bound the events: this "
                                              "service's, this service's for the chain in "
                                              "another learner's bundle (another_bundle: not "
                                              "vouched for), another deployment's (not trusted "
                                              "here), unknown_key (one the bundle does not "
                                              "carry: unchecked), none (an export without "
                                              "one), unrecorded (taken over before "
                                              "manifests)"}}}}},
}
LEDGER_KEYS: dict[str, Any] = {
    "type": "object", "required": ["keys"],
    "properties": {"keys": {"type": "array", "items": {"type": "object"}}},
}
WITHDRAWAL: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["kind", "id"],
    "properties": {"kind": {"type": "string", "maxLength": 32,
                            "description": "share_link or inbox_link (what other features register)"},
                   "id": {"type": "string", "minLength": 1, "maxLength": 128,
                          "pattern": "^[!-~]+$",
                          "description": "the id the feature gave it (visible ASCII: a share or "
                                         "inbox link's is a UUID)"}},
}
WITHDRAWN: dict[str, Any] = {
    "type": "object", "required": ["event_id", "kind"],
    "properties": {"event_id": _S, "kind": {"const": "consent_withdrawn"}},
}
IMPORT_BODY: dict[str, Any] = {
    "type": "object", "required": ["passphrase"],
    "description": "The export bundle with a `passphrase` member added, or `{bundle, passphrase}`.",
    "properties": {"passphrase": PASSPHRASE_GIVEN, "bundle": {"type": "object"}},
}
IMPORTED: dict[str, Any] = {
    "type": "object", "required": ["credentials", "keys", "ledger_entries"],
    "properties": {"credentials": {"type": "integer"}, "keys": {"type": "integer"},
                   "ledger_entries": {"type": "integer"},
                   "records": {"type": "array", "items": _S}, "import_event_id": _NULLABLE_S,
                   "replayed": {"type": "boolean",
                                "description": "true: this bundle had been imported already "
                                               "(a retry after a lost answer or a crash); "
                                               "nothing was written again"}},
}
BUNDLE: dict[str, Any] = {
    "type": "object", "required": ["format", "version", "credentials", "keys", "ledger"],
    "description": "Schema published at GET /v1/me/export/schema",
    "properties": {"format": {"const": "satchel-export"}, "version": {"type": "integer"}},
}
