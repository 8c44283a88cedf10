"""The one thing the ledger needs from the learner's key hierarchy: seal and open bytes.

Spec: docs/architecture.md (the learner's vault key, XChaCha20-Poly1305 AEAD, RFC 8439 / draft-irtf-cfrg-
xchacha), https://datatracker.ietf.org/doc/html/draft-irtf-cfrg-xchacha .

Why a Protocol: ``consent`` must not depend on how ``wallet`` builds the key; the lead passes the
learner's ``VaultKey``, tests pass a PyNaCl one. ``open`` raises (anything) when the key or the
associated data is wrong; the ledger turns that into :class:`~consent.errors.BodyUnreadable`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["BodySealer"]


@runtime_checkable
class BodySealer(Protocol):
    """Authenticated encryption under the learner's key, with associated data."""

    def seal(self, plaintext: bytes, aad: bytes = b"") -> bytes: ...

    def open(self, ciphertext: bytes, aad: bytes = b"") -> bytes:
        """The plaintext; :class:`wallet.crypto.DecryptionFailed` when ``ciphertext`` does not
        open under this key with ``aad`` (wrong key, wrong context, tampered bytes)."""
        ...
