"""The services' errors in the learner's language.

A service error carries an English ``detail`` (for the API and the logs) and a stable ``code``.
A page never shows the detail: it shows the catalogue message of the code (several codes share
one message where the learner can do the same about them), or, for a code a peer made up, the
message of its HTTP status. The error page also shows the code itself, as it is.
The web layer's own refusals (:class:`Refused`) carry a catalogue message as their detail.
"""

from __future__ import annotations

from typing import Any

from holder_api.schemas import NEW_PASSPHRASE
from holder_api.web.i18n import N_, Gettext, Nn_
from wallet.errors import BadInput, SatchelError

__all__ = ["PROBLEM_WORDS", "STATUS_DETAILS", "Refused", "check_new_passphrase", "problem_text"]


class Refused(BadInput):
    """A form the web layer itself refuses: ``detail`` is a catalogue message (mark it N_), its
    ``%(name)s`` placeholders filled from the keyword arguments; or a message with a count, its
    singular and plural (mark them Nn_), shown in the form the page language takes for ``n``."""

    def __init__(self, detail: str | tuple[str, str], *, code: str | None = None,
                 **values: Any) -> None:
        singular, plural = (detail, None) if isinstance(detail, str) else detail
        self.plural: str | None = plural
        super().__init__(singular, code=code, **values)


def check_new_passphrase(passphrase: str) -> None:
    """The one passphrase rule a learner meets most, said with its number: the services' own
    refusal of a short passphrase is a plain ``invalid_request``."""
    least = int(NEW_PASSPHRASE["minLength"])
    if len(passphrase) < least:
        raise Refused(Nn_("A new passphrase needs at least %(n)s character: four or more "
                          "unrelated words work well.",
                          "A new passphrase needs at least %(n)s characters: four or more "
                          "unrelated words work well."), code="weak_passphrase", n=least)


_MALFORMED = N_("This is not a credential this wallet can read, or it is malformed.")
_SIGNATURE = N_("The credential's signature does not verify: it may have been altered.")
_ISSUER_KEY = N_("The issuer's key could not be found or trusted, so the credential cannot "
                 "be verified.")
_STATUS_LIST = N_("The credential's status list could not be read.")
_PEER = N_("The issuer or verifier did not answer properly. Try again later, or contact them.")
_LATER = N_("The wallet cannot do this right now. Try again later.")
_INVALID = N_("Something in the form was not accepted. Check it and try again.")
_REQUEST = N_("This presentation request is not valid, or this wallet does not support it.")
_BUNDLE = N_("This file is not an export this wallet can import.")
_LEDGER_BAD = N_("The history does not verify: it was altered or cannot be read.")
_TOO_LARGE = N_("The file is larger than this wallet accepts.")
_SESSION = N_("Your session has ended or this is not allowed. Unlock the wallet and try again.")
_GONE = N_("This has expired.")
_REFUSED = N_("This is not allowed.")
_NOT_FOUND = N_("There is nothing here, or it is not yours.")
_CONFLICT = N_("That is not possible right now.")
_UNSUPPORTED = N_("This kind of credential or file is not supported.")
_RATE = N_("Too many attempts. Wait a little, then try again.")
_ONE_AT_A_TIME = N_("Another file of yours is still being sent. Wait until it is done, then try "
                    "again.")

#: problem code -> catalogue message. Every code a service defines is here (a test walks them).
PROBLEM_WORDS: dict[str, str] = {
    # accounts and sessions
    "invalid_credentials": N_("Wrong username or passphrase."),
    "username_taken": N_("That username is taken."),
    "invalid_username": N_("A username has 3 to 64 characters: letters, digits and . _ @ + -"),
    "weak_passphrase": N_("That passphrase is too easy to guess: use four or more unrelated "
                          "words."),
    "unauthorized": _SESSION, "invalid_typ": _SESSION, "invalid_alg": _SESSION,
    "forbidden": _REFUSED,
    "csrf_refused": N_("The form is out of date or did not come from this wallet: reload the "
                       "page and try again."),
    "rate_limited": _RATE, "contended": N_("The wallet is busy. Wait a moment, then try again."),
    # the web layer's own
    "not_found": _NOT_FOUND,
    "method_not_allowed": N_("This address is not a page to open."),
    "offer_not_waiting": N_("No offer of this wallet is waiting for this sign-in: open it from "
                            "the inbox and accept it again."),
    # generic
    "invalid_request": _INVALID, "invalid_query": _INVALID, "invalid_consent_event": _INVALID,
    "invalid_settings": _INVALID, "invalid_trust_list": _INVALID,
    "invalid_cursor": N_("This page of the list is out of date: start again from the first "
                         "page."),
    "conflict": _CONFLICT, "record_unreadable": _CONFLICT, "gone": _GONE,
    "payload_too_large": _TOO_LARGE, "pdf_too_large": _TOO_LARGE,
    "unsupported_format": _UNSUPPORTED,
    "internal_error": _LATER, "unavailable": _LATER, "overloaded": _LATER,
    "offer_not_saved": _LATER, "wrong_accounts_database": _LATER, "decryption_failed": _LATER,
    # a credential that does not read or does not verify
    "invalid_sd_jwt": _MALFORMED, "invalid_sd_jwt_vc": _MALFORMED, "invalid_credential": _MALFORMED,
    "invalid_credential_document": _MALFORMED, "canonicalization_budget_exceeded": _MALFORMED,
    "canonicalization_failed": _MALFORMED, "jsonld_inline_context": _MALFORMED,
    "jsonld_language_tag_invalid": _MALFORMED, "jsonld_not_in_compact_form": _MALFORMED,
    "jsonld_relative_iri": _MALFORMED, "jsonld_term_not_covered": _MALFORMED,
    "timestamp_invalid": _MALFORMED, "unknown_context": _MALFORMED, "not_signable": _MALFORMED,
    "unknown_claim_path": _MALFORMED, "pdf_malformed": _MALFORMED, "invalid_jws": _MALFORMED,
    "verification_failed": _SIGNATURE, "invalid_key_binding": _SIGNATURE,
    "wrong_holder_key": _SIGNATURE, "holder_binding_failed": _SIGNATURE,
    "pdf_signature_invalid": _SIGNATURE, "pdf_modified_after_signing": _SIGNATURE,
    "issuer_key_not_found": _ISSUER_KEY, "verification_method_not_found": _ISSUER_KEY,
    "invalidDid": _ISSUER_KEY, "methodNotSupported": _ISSUER_KEY, "notFound": _ISSUER_KEY,
    "invalid_certificate": _ISSUER_KEY, "untrusted_certificate_chain": _ISSUER_KEY,
    "certificate_expired": _ISSUER_KEY, "status_list_not_from_issuer": _ISSUER_KEY,
    "invalid_status_list": _STATUS_LIST, "status_index_out_of_range": _STATUS_LIST,
    "expired": N_("The credential has expired."),
    "credential_expired": N_("The credential has expired."),
    "not_yet_valid": N_("The credential is not valid yet."),
    "credential_not_yet_valid": N_("The credential is not valid yet."),
    "pdf_unsigned": N_("The PDF is not signed, so nothing in it can be verified."),
    "pdf_encrypted": N_("The PDF is encrypted: this wallet cannot read it."),
    # receiving
    "invalid_credential_offer": N_("This is not a valid credential offer."),
    "offer_expired": N_("The offer has expired. Ask the issuer for a new one."),
    "inbox_item_expired": N_("The offer has expired. Ask the issuer for a new one."),
    "offer_state": N_("This offer cannot be accepted now: it was already answered, or the "
                      "issuer is still preparing it."),
    "issuance_pending": N_("The issuer is still preparing this credential. Come back later."),
    "tx_code_required": N_("Enter the transaction code the issuer sent you."),
    "invalid_grant": N_("The issuer did not accept the code. Check it and try again."),
    "invalid_state": N_("No offer of this wallet is waiting for this sign-in: open it from "
                        "the inbox and accept it again."),
    "access_denied": N_("Access was refused."),
    "credential_request_denied": N_("The issuer refused to issue the credential."),
    "credential_refused": N_("The issuer did not issue the credential."),
    # also a link nothing answers at (mistyped, dead): no issuer was asked to issue anything
    "issuer_failed": N_("The issuer did not answer properly: the link may be wrong or out of "
                        "date, or the issuer may be down. Try again later, or ask the issuer "
                        "for a new link."),
    "unsupported_proof_alg": N_("The issuer asks for a kind of key this wallet does not have."),
    "fetch_refused": N_("This wallet does not open that address."),
    "upstream_error": _PEER, "issuer_unavailable": _PEER, "issuer_error": _PEER,
    "expired_token": _PEER, "invalid_client": _PEER, "invalid_credential_request": _PEER,
    "invalid_credential_response": _PEER, "invalid_encryption_parameters": _PEER,
    "invalid_issuer_metadata": _PEER, "invalid_nonce": _PEER, "invalid_notification_id": _PEER,
    "invalid_notification_request": _PEER, "invalid_scope": _PEER, "invalid_token": _PEER,
    "invalid_transaction_id": _PEER, "unauthorized_client": _PEER, "invalid_proof": _PEER,
    "unknown_credential_configuration": _PEER, "unknown_credential_identifier": _PEER,
    "unsupported_grant_type": _PEER,
    # presenting
    "invalid_request_object": _REQUEST, "invalid_request_uri": _REQUEST,
    "invalid_request_uri_method": _REQUEST, "invalid_transaction_data": _REQUEST,
    "vp_formats_not_supported": _REQUEST, "presentation_not_supported": _REQUEST,
    "wallet_unavailable": _REQUEST,
    "invalid_selection": N_("That choice does not answer this request: check the choices "
                            "and try again."),
    "request_already_answered": N_("This request was already answered."),
    "request_expired": N_("This request has expired. Ask the verifier for a new one."),
    "credential_unusable": N_("This credential cannot be used for this request."),
    "whole_credential_only": N_("This kind of credential can only be shared whole."),
    # your data
    "account_not_empty": N_("An export file can only be imported into a new, empty wallet: "
                            "lock this one, create a new wallet, and import the file there."),
    "wrong_bundle_passphrase": N_("The passphrase for the export file is wrong."),
    "invalid_bundle": _BUNDLE, "unsupported_bundle_version": _BUNDLE, "invalid_import": _BUNDLE,
    "ledger_unavailable": N_("The history is unavailable right now, so nothing was changed. "
                             "Try again later."),
    "ledger_tampered": _LEDGER_BAD, "ledger_body_unreadable": _LEDGER_BAD,
    "ledger_erased": N_("This wallet was erased."),
    "learner_asserted_entry": N_("This entry came from an imported file this wallet cannot "
                                 "vouch for, so it signs no receipt for it."),
    "ledger_entry_from_newer_release": N_("Your history holds an entry from a newer version of "
                                          "Satchel, which this one cannot read. Try again in a "
                                          "few minutes, once the service is updated."),
    "imports_busy": N_("The wallet is busy. Wait a moment, then try again."),
    "uploads_busy": N_("The wallet is busy. Wait a moment, then try again."),
    "import_in_progress": _ONE_AT_A_TIME, "upload_in_progress": _ONE_AT_A_TIME,
    "request_timeout": N_("What you sent arrived too slowly, so the wallet stopped waiting. "
                          "Check the connection, then try again."),
    "replicas_running": _LATER,  # an operator command's refusal: never a page's, worded anyway
    "account_erased": N_("This wallet was erased."),
    "erasure_pending": _LATER,  # the wallet's erasure is finished when its store is back
}

#: HTTP status -> message, for a code no service defines (a peer's own OAuth error code).
STATUS_DETAILS: dict[int, str] = {
    400: _INVALID, 401: _SESSION, 403: _REFUSED, 404: _NOT_FOUND, 409: _CONFLICT, 410: _GONE,
    413: _TOO_LARGE, 415: _UNSUPPORTED, 422: _SIGNATURE, 429: _RATE, 502: _PEER,
}


def problem_text(_: Gettext, err: SatchelError) -> str:
    """What a page says about ``err``, in the page's language."""
    if isinstance(err, Refused):
        if err.plural is not None:
            values = dict(err.extra)
            return _.ngettext(err.detail, err.plural, values.pop("n"), **values)
        return _(err.detail, **err.extra)
    words = PROBLEM_WORDS.get(err.code) or STATUS_DETAILS.get(err.status, _LATER)
    return _(words)
