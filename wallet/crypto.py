"""The learner's key hierarchy: passphrase → KEK → vault key (DEK), erasure, inbox and holder keys.

Primitives (all from libsodium through PyNaCl, except the holder keys):
- Argon2id (RFC 9106, https://www.rfc-editor.org/rfc/rfc9106) derives the key-encryption key (KEK)
  from the learner's passphrase and, with its own salt, from the one-time recovery code.
- XChaCha20-Poly1305 IETF (draft-irtf-cfrg-xchacha, https://datatracker.ietf.org/doc/draft-irtf-cfrg-xchacha/;
  RFC 8439 §2.8 for the AEAD) seals everything: its 24-byte nonce is safe to draw at random for
  every message, so no nonce bookkeeping is needed across replicas.
- BLAKE2b keyed mode (RFC 7693 §2.5, https://www.rfc-editor.org/rfc/rfc7693) is the PRF behind
  sub-keys and blinded index values.
- X25519 sealed boxes (libsodium ``crypto_box_seal``) for the inbox: a push can be sealed to the
  learner while the vault is locked, and only the unlocked learner opens it.
- Holder signing keys use ``cryptography`` (docs/architecture.md: ~10x faster than Askar's ``Key``); their
  DID is ``did:jwk`` (https://github.com/quartzjer/did-jwk/blob/main/spec.md) and their ``kid``
  the RFC 7638 thumbprint (https://www.rfc-editor.org/rfc/rfc7638).

Why the layering (docs/architecture.md): the DEK is random, so a passphrase change rewraps 32 bytes instead
of re-encrypting the vault. Each wrap of the DEK is sealed *again* with the learner's erasure key,
which lives in a keyring outside the databases: a database copy alone cannot even be used to test
passphrase guesses offline, and destroying the erasure key crypto-shreds the learner.

Pure and synchronous: no I/O. Argon2id is CPU heavy (tens to hundreds of ms); callers run
:func:`derive_kek` and the functions calling it in an executor.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import nacl.bindings as sodium
import nacl.exceptions
import nacl.public
import nacl.pwhash.argon2id as argon2id
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from wallet.clock import SYSTEM_CLOCK
from wallet.errors import BadInput, SatchelError, Unauthorized, WeakPassphrase
from wallet.jose import (
    PrivateKey,
    b64url_decode,
    b64url_encode,
    jwk_thumbprint,
    private_key_from_jwk,
    public_jwk,
    sign_raw,
)

__all__ = [
    "PRODUCTION_KDF",
    "RECOVERY_ALPHABET",
    "TEST_KDF",
    "DecryptionFailed",
    "RecordUnreadable",
    "HolderKey",
    "HolderKeyInfo",
    "InboxKeyPair",
    "KdfCost",
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
    "seal_holder_key",
    "seal_to_inbox",
    "sealed_shut",
    "unwrap_with_passphrase",
    "unwrap_with_recovery",
]

KEY_BYTES = 32
SALT_BYTES = argon2id.SALTBYTES  # 16
_NONCE_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES  # 24
_TAG_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES  # 16
_BLIND_BYTES = 16  # 128-bit blinded index values: collisions are negligible, tags stay short
_WRAP_VERSION = 1
_UNLOCK_FAILED = "the passphrase or recovery code is wrong"

#: Crockford base32 (https://www.crockford.com/base32.html): no I, L, O, U; case-insensitive.
RECOVERY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RECOVERY_GROUPS, _RECOVERY_GROUP_LEN = 5, 5  # 25 symbols x 5 bits = 125 bits of entropy
_CROCKFORD_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})


class DecryptionFailed(SatchelError):
    """A sealed blob did not open: wrong key, wrong context (AAD) or tampered bytes.

    It is an integrity failure of data Satchel itself sealed, so it is Satchel's fault, not a
    client's; callers that seal client-held data (e.g. a token) convert it to ``Unauthorized``.
    """

    status, code, title = 500, "decryption_failed", "Sealed data could not be opened"


class RecordUnreadable(DecryptionFailed):
    """A sealed record opened, but this version cannot read what it holds (a state it does not
    know, a member missing or of the wrong type): corruption, or a newer replica's write during a
    rolling upgrade.

    409, not 500: the server is working; the record's present state conflicts with what this
    version can do with it (the answer names the record, RFC 9110 §15.5.10). A list leaves such a
    record out and logs its id, so one record spoils only itself (docs/presenting.md).
    """

    status, code, title = 409, "record_unreadable", "This record cannot be read"


# --------------------------------------------------------------------------------------------
# Argon2id


@dataclass(frozen=True, slots=True)
class KdfCost:
    """Argon2id cost parameters (libsodium units: passes, bytes)."""

    opslimit: int
    memlimit: int

    def __post_init__(self) -> None:
        if not (argon2id.OPSLIMIT_MIN <= self.opslimit <= argon2id.OPSLIMIT_MAX):
            raise BadInput("Argon2id opslimit out of range")
        if not (argon2id.MEMLIMIT_MIN <= self.memlimit <= argon2id.MEMLIMIT_MAX):
            raise BadInput("Argon2id memlimit out of range")


#: 64 MiB, 3 passes: above OWASP's Argon2id floor (19 MiB, 2 passes) and RFC 9106's second
#: recommended option (64 MiB, 3 passes); ~130 ms on the 2-core reference machine (docs/architecture.md).
PRODUCTION_KDF = KdfCost(opslimit=3, memlimit=64 * 1024 * 1024)
#: libsodium's minimum (1 pass, 8 KiB). Tests only: it protects nothing.
TEST_KDF = KdfCost(opslimit=argon2id.OPSLIMIT_MIN, memlimit=argon2id.MEMLIMIT_MIN)


def _normalize_secret(secret: str) -> bytes:
    # NFKC so the same passphrase typed on two keyboards/input methods gives the same key
    # (NIST SP 800-63B §5.1.1.2).
    return unicodedata.normalize("NFKC", secret).encode("utf-8")


def derive_kek(passphrase: str, salt: bytes, cost: KdfCost) -> bytes:
    """Argon2id(passphrase, salt) → 32-byte key-encryption key. CPU heavy: run in an executor."""
    if not isinstance(passphrase, str):
        raise BadInput("passphrase must be a string")
    if len(salt) != SALT_BYTES:
        raise BadInput("Argon2id salt must be 16 bytes")
    return argon2id.kdf(KEY_BYTES, _normalize_secret(passphrase), salt,
                        opslimit=cost.opslimit, memlimit=cost.memlimit)


# --------------------------------------------------------------------------------------------
# Sealing


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, key)


_xchacha_decrypt = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt


def _open(key: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    # PyNaCl's public binding: its own argument checks cost ~5 µs a call over libsodium's
    # function (a list opens one summary per credential); the private cffi module that skipped
    # them is not an API PyNaCl promises to keep. Lengths are checked here so that every
    # failure is DecryptionFailed, never PyNaCl's TypeError.
    if not isinstance(ciphertext, bytes | bytearray | memoryview) or (
        len(ciphertext) < _NONCE_BYTES + _TAG_BYTES
    ):
        raise DecryptionFailed()
    if len(key) != KEY_BYTES or not isinstance(aad, bytes):
        raise DecryptionFailed()
    data = bytes(ciphertext)
    try:
        return _xchacha_decrypt(data[_NONCE_BYTES:], aad, data[:_NONCE_BYTES], key)
    except (nacl.exceptions.CryptoError, TypeError) as exc:  # TypeError: a key not bytes
        raise DecryptionFailed() from exc


def _prf(key: bytes, person: bytes, data: bytes, size: int = KEY_BYTES) -> bytes:
    return hashlib.blake2b(data, digest_size=size, key=key, person=person).digest()


class VaultKey:
    """The learner's vault key (DEK): 32 random bytes that seal everything in their vault.

    Never printed (``repr`` is redacted) and compared in constant time.
    """

    __slots__ = ("_blind_key", "_key")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise BadInput("a vault key is 32 bytes")
        self._key = key
        # derived at the first blind index (writes and filtered lists): every authenticated
        # request makes a VaultKey, most never blind anything
        self._blind_key: bytes | None = None

    @classmethod
    def generate(cls) -> VaultKey:
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def from_bytes(cls, key: bytes) -> VaultKey:
        return cls(bytes(key))

    @property
    def raw(self) -> bytes:
        return self._key

    def seal(self, plaintext: bytes, aad: bytes = b"") -> bytes:
        """XChaCha20-Poly1305 with a random nonce; output is ``nonce || ciphertext || tag``."""
        return _seal(self._key, plaintext, aad)

    def open(self, ciphertext: bytes, aad: bytes = b"") -> bytes:
        """Inverse of :meth:`seal`; raises :class:`DecryptionFailed` on any mismatch."""
        return _open(self._key, ciphertext, aad)

    def subkey(self, context: str) -> bytes:
        """An independent 32-byte key for one purpose (BLAKE2b-keyed PRF over ``context``)."""
        return _prf(self._key, b"satchel.subkey", context.encode("utf-8"))

    def blind(self, kind: str, value: str) -> str:
        """A blinded (keyed-hash) index value: equal inputs match, nothing else is revealed.

        ``kind`` separates domains, so the same issuer string blinded as ``issuer`` and as
        ``type`` gives unrelated values.
        """
        blind_key = self._blind_key
        if blind_key is None:
            blind_key = self._blind_key = _prf(self._key, b"satchel.subkey", b"blind/v1")
        data = kind.encode("utf-8") + b"\x00" + value.encode("utf-8")
        return b64url_encode(_prf(blind_key, b"satchel.blind", data, _BLIND_BYTES))

    def check_value(self) -> str:
        """A public fingerprint of this key (PRF output), to detect a wrong DEK early."""
        return b64url_encode(_prf(self._key, b"satchel.check", b"dek/v1", 16))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VaultKey) and hmac.compare_digest(self._key, other._key)

    def __hash__(self) -> int:
        return hash(self.check_value())

    def __repr__(self) -> str:
        return "VaultKey(<redacted>)"


# --------------------------------------------------------------------------------------------
# Wrapped keys


def _check_erasure_key(erasure_key: bytes) -> bytes:
    if not isinstance(erasure_key, bytes) or len(erasure_key) != KEY_BYTES:
        raise BadInput("an erasure key is 32 bytes")
    return erasure_key


@dataclass(frozen=True, slots=True)
class WrappedKeys:
    """What the accounts database stores for a learner: the DEK wrapped twice, never in clear.

    Each ``*_wrap`` is ``seal(erasure_key, seal(kek, DEK))``; the inner and outer AADs bind the
    wrap to its slot (passphrase or recovery) and to the salt and cost it was derived with.
    """

    salt: bytes
    cost: KdfCost
    passphrase_wrap: bytes
    recovery_salt: bytes
    recovery_cost: KdfCost
    recovery_wrap: bytes
    dek_check: str
    version: int = _WRAP_VERSION

    def to_json(self) -> str:
        return json.dumps({
            "v": self.version, "kdf": "argon2id13", "check": self.dek_check,
            "pass": {"salt": b64url_encode(self.salt), "ops": self.cost.opslimit,
                     "mem": self.cost.memlimit, "wrap": b64url_encode(self.passphrase_wrap)},
            "rec": {"salt": b64url_encode(self.recovery_salt),
                    "ops": self.recovery_cost.opslimit, "mem": self.recovery_cost.memlimit,
                    "wrap": b64url_encode(self.recovery_wrap)},
        }, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, s: str) -> WrappedKeys:
        try:
            obj = json.loads(s)
            if obj["v"] != _WRAP_VERSION or obj["kdf"] != "argon2id13":
                raise BadInput("unsupported wrapped-key record version")
            p, r = obj["pass"], obj["rec"]
            rec = cls(
                salt=b64url_decode(p["salt"]), cost=_cost(p["ops"], p["mem"]),
                passphrase_wrap=b64url_decode(p["wrap"]),
                recovery_salt=b64url_decode(r["salt"]), recovery_cost=_cost(r["ops"], r["mem"]),
                recovery_wrap=b64url_decode(r["wrap"]), dek_check=str(obj["check"]),
            )
        except BadInput:
            raise
        except (ValueError, TypeError, KeyError) as exc:
            raise BadInput("malformed wrapped-key record") from exc
        if len(rec.salt) != SALT_BYTES or len(rec.recovery_salt) != SALT_BYTES:
            raise BadInput("malformed wrapped-key record")
        return rec


def _cost(ops: object, mem: object) -> KdfCost:
    if type(ops) is not int or type(mem) is not int:
        raise BadInput("malformed Argon2id cost")
    return KdfCost(ops, mem)


def _slot_aad(slot: str, salt: bytes, cost: KdfCost) -> bytes:
    return f"satchel/dek-wrap/v1/{slot}/{cost.opslimit}/{cost.memlimit}/".encode() + salt


def _wrap(dek: VaultKey, kek: bytes, erasure_key: bytes, aad: bytes) -> bytes:
    inner = _seal(kek, dek.raw, aad + b"/kek")
    return _seal(erasure_key, inner, aad + b"/erasure")


def _unwrap(blob: bytes, kek: bytes, erasure_key: bytes, aad: bytes, check: str) -> VaultKey:
    try:
        inner = _open(erasure_key, blob, aad + b"/erasure")
        dek = VaultKey(_open(kek, inner, aad + b"/kek"))
    except (DecryptionFailed, BadInput) as exc:
        raise Unauthorized(_UNLOCK_FAILED) from exc
    if not hmac.compare_digest(dek.check_value(), check):
        raise Unauthorized(_UNLOCK_FAILED)
    return dek


def _new_recovery_code() -> str:
    symbols = "".join(secrets.choice(RECOVERY_ALPHABET)
                      for _ in range(_RECOVERY_GROUPS * _RECOVERY_GROUP_LEN))
    return "-".join(symbols[i:i + _RECOVERY_GROUP_LEN]
                    for i in range(0, len(symbols), _RECOVERY_GROUP_LEN))


def normalize_recovery_code(code: str) -> str:
    """The canonical form of a typed recovery code (case, separators, O/I/L aliases forgiven).

    Raises :class:`Unauthorized` (not ``BadInput``): a malformed code is just a wrong secret.
    """
    if not isinstance(code, str) or len(code) > 100:
        raise Unauthorized(_UNLOCK_FAILED)
    compact = "".join(ch for ch in code.upper() if ch not in "- \t").translate(_CROCKFORD_ALIASES)
    if len(compact) != _RECOVERY_GROUPS * _RECOVERY_GROUP_LEN or any(
        ch not in RECOVERY_ALPHABET for ch in compact
    ):
        raise Unauthorized(_UNLOCK_FAILED)
    return compact


def _recovery_wrap(dek: VaultKey, erasure_key: bytes, cost: KdfCost) -> tuple[bytes, bytes, str]:
    code = _new_recovery_code()
    salt = secrets.token_bytes(SALT_BYTES)
    kek = derive_kek(normalize_recovery_code(code), salt, cost)
    return salt, _wrap(dek, kek, erasure_key, _slot_aad("recovery", salt, cost)), code


def create_learner_keys(passphrase: str, erasure_key: bytes,
                        cost: KdfCost) -> tuple[WrappedKeys, VaultKey, str]:
    """A new learner's keys: (record to store, the DEK, the recovery code to show once).

    Runs Argon2id twice: call it in an executor.
    """
    check_passphrase_strength(passphrase)
    _check_erasure_key(erasure_key)
    dek = VaultKey.generate()
    salt = secrets.token_bytes(SALT_BYTES)
    kek = derive_kek(passphrase, salt, cost)
    rsalt, rwrap, code = _recovery_wrap(dek, erasure_key, cost)
    rec = WrappedKeys(
        salt=salt, cost=cost,
        passphrase_wrap=_wrap(dek, kek, erasure_key, _slot_aad("passphrase", salt, cost)),
        recovery_salt=rsalt, recovery_cost=cost, recovery_wrap=rwrap,
        dek_check=dek.check_value(),
    )
    return rec, dek, code


def unwrap_with_passphrase(rec: WrappedKeys, passphrase: str, erasure_key: bytes) -> VaultKey:
    """The DEK, or :class:`Unauthorized` (same message whichever secret is wrong)."""
    _check_erasure_key(erasure_key)
    if not isinstance(passphrase, str) or len(passphrase) > _PASSPHRASE_MAX:
        raise Unauthorized(_UNLOCK_FAILED)
    kek = derive_kek(passphrase, rec.salt, rec.cost)
    return _unwrap(rec.passphrase_wrap, kek, erasure_key,
                   _slot_aad("passphrase", rec.salt, rec.cost), rec.dek_check)


def unwrap_with_recovery(rec: WrappedKeys, code: str, erasure_key: bytes) -> VaultKey:
    """The DEK from the recovery code. The code is single-use: then call :func:`rotate_recovery`."""
    _check_erasure_key(erasure_key)
    kek = derive_kek(normalize_recovery_code(code), rec.recovery_salt, rec.recovery_cost)
    return _unwrap(rec.recovery_wrap, kek, erasure_key,
                   _slot_aad("recovery", rec.recovery_salt, rec.recovery_cost), rec.dek_check)


def sealed_shut(rec: WrappedKeys) -> WrappedKeys:
    """``rec`` with both wraps replaced by random bytes of the same length: a record of the same
    form that no passphrase and no recovery code opens, whatever the erasure key (the outer seal
    fails, as for a wrong passphrase).

    An erasure writes it in its first commit (``AccountService.begin_erasure``), so that the
    account cannot be unlocked any more by any release — one that reads the erasure mark or one
    that predates it (docs/operations.md, "Upgrades") — while its erasure key still exists."""
    return replace(rec, passphrase_wrap=secrets.token_bytes(len(rec.passphrase_wrap)),
                   recovery_wrap=secrets.token_bytes(len(rec.recovery_wrap)))


def _require_matching_dek(rec: WrappedKeys, dek: VaultKey) -> None:
    # Wrapping a different DEK would lock the learner out of their own vault for good.
    if not hmac.compare_digest(dek.check_value(), rec.dek_check):
        raise BadInput("the vault key does not belong to this record")


def rewrap_passphrase(rec: WrappedKeys, dek: VaultKey, new_passphrase: str, erasure_key: bytes,
                      cost: KdfCost) -> WrappedKeys:
    """The record with the DEK wrapped under a new passphrase (new salt); recovery slot kept."""
    check_passphrase_strength(new_passphrase)
    _check_erasure_key(erasure_key)
    _require_matching_dek(rec, dek)
    salt = secrets.token_bytes(SALT_BYTES)
    kek = derive_kek(new_passphrase, salt, cost)
    return WrappedKeys(
        salt=salt, cost=cost,
        passphrase_wrap=_wrap(dek, kek, erasure_key, _slot_aad("passphrase", salt, cost)),
        recovery_salt=rec.recovery_salt, recovery_cost=rec.recovery_cost,
        recovery_wrap=rec.recovery_wrap, dek_check=rec.dek_check,
    )


def rotate_recovery(rec: WrappedKeys, dek: VaultKey, erasure_key: bytes,
                    cost: KdfCost) -> tuple[WrappedKeys, str]:
    """A fresh recovery code (the old one stops working once the new record is stored)."""
    _check_erasure_key(erasure_key)
    _require_matching_dek(rec, dek)
    rsalt, rwrap, code = _recovery_wrap(dek, erasure_key, cost)
    return WrappedKeys(
        salt=rec.salt, cost=rec.cost, passphrase_wrap=rec.passphrase_wrap,
        recovery_salt=rsalt, recovery_cost=cost, recovery_wrap=rwrap, dek_check=rec.dek_check,
    ), code


# --------------------------------------------------------------------------------------------
# Passphrase policy (NIST SP 800-63B §5.1.1.2: length over composition rules, refuse the obvious)

_PASSPHRASE_MIN, _PASSPHRASE_MAX = 12, 1024
_OBVIOUS = ("password", "passphrase", "qwerty", "azerty", "letmein", "iloveyou", "satchel",
            "0123456789", "abcdefghij")


def check_passphrase_strength(p: str) -> None:
    """Raise :class:`BadInput` for a passphrase that is too short, too long or trivially guessable.

    The message never repeats the passphrase.
    """
    if not isinstance(p, str):
        raise BadInput("passphrase must be a string")
    # the lengths the API schema states (code points); the rest is WeakPassphrase
    if len(p) < _PASSPHRASE_MIN:
        raise BadInput(f"passphrase must have at least {_PASSPHRASE_MIN} characters")
    if len(p) > _PASSPHRASE_MAX:
        raise BadInput(f"passphrase must have at most {_PASSPHRASE_MAX} characters")
    if len(unicodedata.normalize("NFKC", p)) < _PASSPHRASE_MIN:
        raise WeakPassphrase(f"passphrase must have at least {_PASSPHRASE_MIN} characters once "
                             "normalised (NFKC)")
    low = p.casefold()
    if len(set(low)) < 5:
        raise WeakPassphrase("passphrase repeats too few different characters")
    if low.isdigit():
        raise WeakPassphrase("passphrase must not be only digits")
    rest = "".join(ch for ch in low if ch.isalnum())
    for word in _OBVIOUS:
        rest = rest.replace(word, "")
    if len("".join(ch for ch in rest if not ch.isdigit())) < 6:
        raise WeakPassphrase("passphrase is too common")
    steps = {ord(b) - ord(a) for a, b in zip(low, low[1:], strict=False)}
    if steps <= {1} or steps <= {-1}:
        raise WeakPassphrase("passphrase must not be a simple sequence")


# --------------------------------------------------------------------------------------------
# Inbox key (X25519 sealed boxes)

_INBOX_AAD = b"satchel/inbox-key/v1"


@dataclass(frozen=True, slots=True)
class InboxKeyPair:
    """The learner's inbox key pair. ``public`` is stored in clear; the private half is sealed."""

    private_key: nacl.public.PrivateKey = field(repr=False)

    @classmethod
    def generate(cls) -> InboxKeyPair:
        return cls(nacl.public.PrivateKey.generate())

    @property
    def public(self) -> bytes:
        return bytes(self.private_key.public_key)

    def seal_private(self, dek: VaultKey) -> bytes:
        return dek.seal(bytes(self.private_key), _INBOX_AAD)

    @classmethod
    def open_private(cls, dek: VaultKey, blob: bytes) -> InboxKeyPair:
        raw = dek.open(blob, _INBOX_AAD)
        if len(raw) != KEY_BYTES:
            raise DecryptionFailed()
        return cls(nacl.public.PrivateKey(raw))


def seal_to_inbox(public: bytes, data: bytes) -> bytes:
    """Seal ``data`` to an inbox public key (anonymous sender; only the key holder can open)."""
    if not isinstance(public, bytes) or len(public) != KEY_BYTES:
        raise BadInput("an inbox public key is 32 bytes")
    return bytes(nacl.public.SealedBox(nacl.public.PublicKey(public)).encrypt(data))


def open_inbox(private_key_pair: InboxKeyPair, ciphertext: bytes) -> bytes:
    """Open a sealed inbox item; raises :class:`DecryptionFailed` on a wrong key or tampering."""
    try:
        return bytes(nacl.public.SealedBox(private_key_pair.private_key).decrypt(ciphertext))
    except (nacl.exceptions.CryptoError, TypeError) as exc:
        raise DecryptionFailed() from exc


# --------------------------------------------------------------------------------------------
# Holder keys

_HOLDER_AAD = b"satchel/holder-key/v1"
_HOLDER_ALGS = ("ES256", "EdDSA")


@dataclass(frozen=True, slots=True)
class HolderKey:
    """A learner's signing key for proofs of possession (OpenID4VCI proofs, SD-JWT KB-JWTs)."""

    kid: str
    alg: str
    private_key: PrivateKey = field(repr=False)
    public_jwk: dict[str, str]
    did: str
    did_url: str
    created_at: datetime

    def sign(self, data: bytes) -> bytes:
        """A JOSE (raw) signature over ``data``."""
        return sign_raw(self.alg, self.private_key, data)


def _holder_key(private_key: PrivateKey, alg: str, created_at: datetime) -> HolderKey:
    jwk = public_jwk(private_key)
    did = "did:jwk:" + b64url_encode(json.dumps(jwk, separators=(",", ":")).encode())
    return HolderKey(kid=jwk_thumbprint(jwk), alg=alg, private_key=private_key, public_jwk=jwk,
                     did=did, did_url=did + "#0", created_at=created_at)


def generate_holder_key(alg: str = "ES256", *, created_at: datetime | None = None) -> HolderKey:
    """A new holder key: ``ES256`` (P-256, the OpenID4VC HAIP default) or ``EdDSA`` (Ed25519).

    Services pass ``created_at`` from their clock; without it, the system clock's time."""
    key: PrivateKey
    if alg == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
    elif alg == "EdDSA":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        raise BadInput("holder keys are ES256 or EdDSA")
    return _holder_key(key, alg, created_at or SYSTEM_CLOCK())


def _private_jwk(key: PrivateKey) -> dict[str, str]:
    jwk = dict(public_jwk(key))
    if isinstance(key, ec.EllipticCurvePrivateKey):
        jwk["d"] = b64url_encode(key.private_numbers().private_value.to_bytes(32, "big"))
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        jwk["d"] = b64url_encode(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))
    else:
        raise BadInput("unsupported holder key type")
    return jwk


def seal_holder_key(dek: VaultKey, key: HolderKey) -> bytes:
    body = {"alg": key.alg, "jwk": _private_jwk(key.private_key),
            "created_at": key.created_at.isoformat()}
    return dek.seal(json.dumps(body, separators=(",", ":")).encode(), _HOLDER_AAD)


@dataclass(frozen=True, slots=True)
class HolderKeyInfo:
    """The public side of a holder key, read without rebuilding the private key (cheap listing)."""

    kid: str
    alg: str
    public_jwk: dict[str, str]
    did: str
    did_url: str
    created_at: datetime


def _open_holder_blob(dek: VaultKey, blob: bytes) -> tuple[str, datetime, Any]:
    """The sealed holder key's ``alg``, ``created_at`` and (private) ``jwk``, or DecryptionFailed."""
    plain = dek.open(blob, _HOLDER_AAD)
    try:
        body: Mapping[str, Any] = json.loads(plain)
        alg = str(body["alg"])
        created = datetime.fromisoformat(str(body["created_at"]))
        jwk = body["jwk"]
    except (KeyError, ValueError, TypeError) as exc:
        raise DecryptionFailed() from exc
    if alg not in _HOLDER_ALGS:
        raise DecryptionFailed()
    return alg, created, jwk


def open_holder_key_info(dek: VaultKey, blob: bytes) -> HolderKeyInfo:
    alg, created, jwk = _open_holder_blob(dek, blob)
    try:
        members = ("crv", "kty", "x", "y") if jwk["kty"] == "EC" else ("crv", "kty", "x")
        public = {m: str(jwk[m]) for m in members}
    except (KeyError, ValueError, TypeError) as exc:
        raise DecryptionFailed() from exc
    did = "did:jwk:" + b64url_encode(json.dumps(public, separators=(",", ":")).encode())
    return HolderKeyInfo(kid=jwk_thumbprint(public), alg=alg, public_jwk=public, did=did,
                         did_url=did + "#0", created_at=created)


def open_holder_key(dek: VaultKey, blob: bytes) -> HolderKey:
    alg, created, jwk = _open_holder_blob(dek, blob)
    try:
        priv = private_key_from_jwk(jwk)
    except (KeyError, ValueError, TypeError, BadInput) as exc:
        raise DecryptionFailed() from exc
    return _holder_key(priv, alg, created)
