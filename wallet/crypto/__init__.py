"""The learner's key hierarchy: passphrase → KEK → vault key (DEK), erasure, inbox and holder keys.

One module per layer, each saying what it holds: :mod:`wallet.crypto.aead` (Argon2id, the
XChaCha20-Poly1305 seal, the vault key), :mod:`wallet.crypto.wrapping` (the DEK wrapped under the
passphrase and the recovery code, and the erasure key's outer seal), :mod:`wallet.crypto.passphrase`
(the strength rule), :mod:`wallet.crypto.inbox` (X25519 sealed boxes) and
:mod:`wallet.crypto.holder_keys` (the signing keys), and :mod:`wallet.crypto.compare` (a secret
sent compared with the one expected). This package re-exports their public names, so
callers import from ``wallet.crypto`` and need not know the layout.

Primitives come from libsodium through PyNaCl, except the holder keys (``cryptography``). Pure and
synchronous: no I/O. Argon2id is CPU heavy (tens to hundreds of ms); callers run
:func:`derive_kek` and the functions calling it in an executor.
"""

from __future__ import annotations

# the sizes, public but outside __all__ (callers import them by name)
from wallet.crypto.aead import KEY_BYTES as KEY_BYTES
from wallet.crypto.aead import (
    PRODUCTION_KDF,
    TEST_KDF,
    DecryptionFailed,
    KdfCost,
    RecordUnreadable,
    VaultKey,
    derive_kek,
)
from wallet.crypto.aead import SALT_BYTES as SALT_BYTES
from wallet.crypto.compare import same_text
from wallet.crypto.holder_keys import (
    HolderKey,
    HolderKeyInfo,
    generate_holder_key,
    open_holder_key,
    open_holder_key_info,
    seal_holder_key,
)
from wallet.crypto.inbox import InboxKeyPair, open_inbox, seal_to_inbox
from wallet.crypto.passphrase import check_passphrase_strength
from wallet.crypto.wrapping import (
    RECOVERY_ALPHABET,
    WrappedKeys,
    create_learner_keys,
    normalize_recovery_code,
    rewrap_passphrase,
    rotate_recovery,
    sealed_shut,
    unwrap_with_passphrase,
    unwrap_with_recovery,
)

__all__ = [
    "PRODUCTION_KDF",
    "RECOVERY_ALPHABET",
    "TEST_KDF",
    "DecryptionFailed",
    "HolderKey",
    "HolderKeyInfo",
    "InboxKeyPair",
    "KdfCost",
    "RecordUnreadable",
    "VaultKey",
    "WrappedKeys",
    "check_passphrase_strength",
    "create_learner_keys",
    "derive_kek",
    "generate_holder_key",
    "normalize_recovery_code",
    "open_holder_key",
    "open_holder_key_info",
    "open_inbox",
    "rewrap_passphrase",
    "rotate_recovery",
    "same_text",
    "seal_holder_key",
    "seal_to_inbox",
    "sealed_shut",
    "unwrap_with_passphrase",
    "unwrap_with_recovery",
]
