"""What the accounts database stores for a learner: the vault key wrapped under the passphrase
and under the one-time recovery code, each wrap sealed again with the erasure key.

Why the layering (docs/architecture.md): the DEK is random, so a passphrase change rewraps 32 bytes
instead of re-encrypting the vault. Each wrap of the DEK is sealed *again* with the learner's
erasure key, which lives in a keyring outside the databases: a database copy alone cannot even be
used to test passphrase guesses offline, and destroying the erasure key crypto-shreds the learner.

A module of its own because it is the one place that turns a secret into the DEK (sign-up,
unlock, recovery, passphrase change); Argon2id is CPU heavy, so callers run these functions in an
executor.
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass, replace

from wallet.crypto.aead import (
    KEY_BYTES,
    SALT_BYTES,
    DecryptionFailed,
    KdfCost,
    VaultKey,
    _open,
    _seal,
    derive_kek,
)
from wallet.crypto.passphrase import _PASSPHRASE_MAX, check_passphrase_strength
from wallet.errors import BadInput, Unauthorized
from wallet.jose import b64url_decode, b64url_encode

_WRAP_VERSION = 1
_UNLOCK_FAILED = "the passphrase or recovery code is wrong"

#: Crockford base32 (https://www.crockford.com/base32.html): no I, L, O, U; case-insensitive.
RECOVERY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RECOVERY_GROUPS, _RECOVERY_GROUP_LEN = 5, 5  # 25 symbols x 5 bits = 125 bits of entropy
_CROCKFORD_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})


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
