"""Errors of the micro-credential mapping (Council Recommendation 2022/C 243/02, Annex I).

The mapping is deliberately forgiving: a credential that lacks or garbles an element yields an
``absent`` element, never an error. The only thing refused is input that is not a JSON object at
all, because then there is no credential to read. That refusal is a :class:`wallet.errors.BadInput`
(HTTP 400) so the API layer renders it like any other malformed request.
"""

from __future__ import annotations

from wallet.errors import BadInput

__all__ = ["NotACredentialObject", "UnknownCredentialFormat"]


class NotACredentialObject(BadInput):
    """The credential document (or claims set) is not a JSON object."""

    code = "invalid_credential_document"
    title = "Credential document is not a JSON object"


class UnknownCredentialFormat(BadInput):
    """A credential format name the mapping does not know (400: the caller named it, where a
    media type Satchel does not read is :class:`wallet.errors.UnsupportedFormat`, 415)."""

    code = "unsupported_format"
