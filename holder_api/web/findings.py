"""The verification findings of a credential (``verification.problems``) in the learner's language.

The verifiers record findings as stable codes (``expired``, ``x5c_not_issuer``, ...). The
credential page shows each one's catalogue message and the code itself beside it (for support).
Several codes share one message where they tell the learner the same thing. A code that names a
service error (a JSON-LD term a proof cannot cover) gets that problem's message; one no verifier
makes (a record from a newer or older Satchel) gets a message saying the code is all there is.
``tests/holder_api/test_web_findings.py`` walks every code the verifiers can record.
"""

from __future__ import annotations

from holder_api.web.i18n import N_, Gettext
from holder_api.web.problems import PROBLEM_WORDS

__all__ = ["FINDING_PREFIXES", "FINDING_WORDS", "finding_text"]

_ALTERED = N_("The signature does not match the content: it may have been altered.")
_NOT_ISSUER = N_("The signing key does not belong to the issuer.")
_KEY_MISMATCH = N_("The key the signature names does not match the key found.")
_CERT_KEY = N_("The signing certificate's key is of a kind this wallet cannot use.")
_UNANCHORED = N_("The signer's certificate does not lead to an authority this wallet trusts.")
_TIMESTAMP = N_("The signature's timestamp is not valid.")
_IN_FUTURE = N_("The signature says it was made in the future.")
_MALFORMED_PROOF = N_("The credential's proof is malformed.")
_UNCONFIRMED = N_("No timestamp confirms when the seal was made.")
_SKIPPED = N_("Some files attached to the PDF were not read (too many or too large).")
_UNREADABLE_ATTACHMENT = N_("A file attached to the PDF could not be read.")
_NOT_BOUND = N_("The credential is not bound to a key of yours (it names no holder key).")
_HEADER = N_("The signature's header is not well-formed.")

#: finding code -> catalogue message. Every code a verifier records is here (a test walks them).
FINDING_WORDS: dict[str, str] = {
    # validity
    "expired": N_("The credential has expired."),
    "not_yet_valid": N_("The credential is not valid yet."),
    "unsigned": N_("The credential is not signed."),
    "not_verifiable_credential": N_("The document does not say it is a verifiable credential."),
    "missing_vc_context": N_("The credential lacks the W3C credentials context."),
    "vc_issuer_not_iss": N_("The issuer named inside the credential is not the one that "
                            "signed it."),
    "holder_key_missing": _NOT_BOUND,
    # the sentence SD-JWT VCs recorded before the code above: still in stored records
    "the credential is not bound to a holder key (no cnf.jwk)": _NOT_BOUND,
    "status_list_not_from_issuer": N_("The credential's status list is not signed by its "
                                      "issuer, so its status is unknown."),
    # the issuer's key
    "alg_not_allowed": N_("The signature uses an algorithm this wallet does not accept."),
    "crit_not_understood": N_("The signature requires an extension this wallet does not "
                              "understand."),
    "b64_not_critical": _HEADER,
    "signature_mismatch": _ALTERED,
    "did_unresolvable": N_("The issuer's identifier (DID) could not be resolved to a key."),
    "issuer_jwks_malformed": N_("The keys the issuer publishes are malformed."),
    "issuer_key_not_found": N_("The keys the issuer publishes do not include the signing key."),
    "issuer_key_self_asserted": N_("The credential brings its own signing key: only this "
                                   "wallet's trust list can vouch for it."),
    "issuer_key_unusable": N_("The issuer's key cannot be used to check this signature."),
    "no_issuer_key": N_("No key of the issuer was found to check the signature."),
    "header_jwk_invalid": N_("The key in the signature's header is not valid."),
    "header_jwk_private": N_("The signature's header contains a private key."),
    "kid_not_issuer": _NOT_ISSUER,
    "x5c_not_issuer": _NOT_ISSUER,
    "verification_method_not_issuer": _NOT_ISSUER,
    "kid_thumbprint_mismatch": _KEY_MISMATCH,
    "x5t_mismatch": _KEY_MISMATCH,
    "x5c_malformed": N_("The issuer's certificate chain is malformed."),
    "x5c_no_anchors": N_("This wallet has no certificate authorities configured to check the "
                         "issuer's certificate."),
    "x5c_chain_untrusted": _UNANCHORED,
    "x5c_key_unsupported": _CERT_KEY,
    "certificate_key_unsupported": _CERT_KEY,
    "certificate_not_for_signing": N_("The certificate is not meant for signing."),
    "certificate_not_valid_at_signing_time": N_("The signing certificate was not valid when "
                                                "the credential was signed."),
    # Data Integrity proofs and JAdES seals
    "proof_suite_unsupported": N_("The proof uses a method this wallet cannot check."),
    "proof_purpose_not_assertion": N_("The proof is not meant to assert the credential."),
    "proof_context_mismatch": N_("The proof's context does not match the credential's."),
    "proof_malformed": _MALFORMED_PROOF,
    "proof_created_malformed": _MALFORMED_PROOF,
    "proof_expires_malformed": _MALFORMED_PROOF,
    "proof_value_malformed": _MALFORMED_PROOF,
    "signing_time_malformed": _MALFORMED_PROOF,
    "proof_created_in_future": _IN_FUTURE,
    "signing_time_in_future": _IN_FUTURE,
    "proof_expired": N_("The credential's proof has expired."),
    "verification_method_missing": N_("The proof does not name its key."),
    "verification_method_unresolvable": N_("The proof's key could not be found."),
    "verification_method_not_ed25519": N_("The proof's key is not of the kind its method "
                                          "needs."),
    "unknown_context": N_("The credential uses a context this wallet does not know, so its "
                          "proof cannot be checked."),
    "too_large_to_verify": N_("The credential is too large to check its proof."),
    "canonicalization_failed": N_("The credential could not be prepared for checking its "
                                  "proof."),
    "jsonld_terms_dropped": N_("Part of the credential is not covered by its proof (terms "
                               "no context defines)."),
    "no_signing_time": N_("The seal does not say when it was made."),
    "no_x5c": N_("The seal carries no certificate."),
    "signing_time_not_confirmed": _UNCONFIRMED,
    "signing_time_unconfirmed": _UNCONFIRMED,
    "timestamp_invalid": _TIMESTAMP,
    "signature_timestamp_invalid": _TIMESTAMP,
    # signed PDFs
    "pdf_unsigned": N_("The PDF is not signed."),
    "pdf_signature_digest_mismatch": _ALTERED,
    "pdf_signature_cryptographically_invalid": _ALTERED,
    "pdf_signature_timestamp_invalid": _TIMESTAMP,
    "pdf_signature_unreadable": N_("A signature of the PDF could not be read."),
    "pdf_signature_fields_unreadable": N_("The PDF's signature fields could not be read."),
    "pdf_signature_unsupported": N_("A signature of the PDF is of a kind this wallet cannot "
                                    "check."),
    "pdf_changed_after_signing": N_("The PDF was changed after signing in a way the signature "
                                    "allows (such as filling in a form): what is shown may "
                                    "differ from what was signed."),
    "pdf_modified_after_signing": N_("The PDF was modified after it was signed."),
    "pdf_signer_revoked": N_("The signer's certificate has been revoked."),
    "pdf_signer_self_signed": N_("The signer's certificate is self-signed."),
    "pdf_signer_not_anchored": _UNANCHORED,
    "pdf_attachments_skipped": _SKIPPED,
    "pdf_attachment_skipped": _SKIPPED,
    "pdf_attachment_unreadable": _UNREADABLE_ATTACHMENT,
    "pdf_attachments_unreadable": _UNREADABLE_ATTACHMENT,
    "pdf_attached_credential_refused": N_("A credential attached to the PDF was refused."),
}

#: code prefix -> catalogue message, for codes a verifier builds from a reason of its library
#: (``pdf_signer_certificate_`` + pyHanko's trust problem, lower-cased)
FINDING_PREFIXES: dict[str, str] = {
    "pdf_signer_certificate_": N_("The signer's certificate is not valid."),
}

_UNKNOWN = N_("A finding this wallet has no description for: its code is beside it.")


def finding_text(code: str, _: Gettext) -> str:
    """``code``'s message in the page's language (see the module docstring)."""
    words = FINDING_WORDS.get(code) or PROBLEM_WORDS.get(code)
    if words is None:
        words = next((w for p, w in FINDING_PREFIXES.items() if code.startswith(p)), _UNKNOWN)
    return _(words)
