"""Errors of the W3C credential formats (JSON-LD with Data Integrity or JAdES, and VC-JWT).

::

    BadInput
    └── InvalidCredential        400 invalid_credential   not a W3C credential we can parse
    VerificationFailed
    ├── UnknownContext           422 unknown_context      (loader) a context that is not bundled
    └── CanonicalizationFailed   422 canonicalization_failed  (canon) invalid JSON-LD / over a bound

Checkers *return* a signature verdict (``valid``/``invalid``/``no_key``/``unsupported``) for
anything they could parse; they raise only when the input is not a credential at all.
"""

from __future__ import annotations

from wallet.errors import BadInput

__all__ = ["InvalidCredential"]


class InvalidCredential(BadInput):
    """The input is not a W3C verifiable credential Satchel can parse."""

    code = "invalid_credential"
