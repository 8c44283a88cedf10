"""Access tokens: stateless across replicas, revocable, carrying the learner's sealed vault key.

An access token is a compact JWS (EdDSA, ``typ: at+jwt``) signed with a key derived from the
service session key. Its ``vk`` claim is the learner's vault key (DEK) sealed with
XChaCha20-Poly1305 under another key derived from the same secret, with the token's ``sub`` and
``sid`` as associated data — so any replica holding the session key can serve the learner, a token
cannot lend its DEK to another session, and nothing unsealed ever touches the database (docs/architecture.md).

Revocation (logout, passphrase change, erasure) lives in the database: a revoked ``sid``, or a
``token_epoch`` on the learner that moved past the token's ``ep``.

A token that passed every check is remembered with its claims, the unsealed vault key among them
(:class:`_Memo`), so that its next request skips Ed25519: only until the token expires (freed by
the periodic sweep of :mod:`wallet.learner_cache` at the latest a quarter of the token lifetime
later), and dropped at once when this replica logs the session out, ends the learner's sessions
(passphrase change, erasure), or finds the token revoked (so another replica's logout frees it
here at the token's next use).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from dataclasses import dataclass

import nacl.bindings as sodium
import nacl.encoding
import nacl.exceptions
import nacl.hash
from cryptography.hazmat.primitives.asymmetric import ed25519

from wallet import jose
from wallet.clock import SYSTEM_CLOCK, Clock
from wallet.errors import BadInput, Unauthorized
from wallet.learner_cache import sweep_also

__all__ = ["AccessToken", "ServiceKeys", "TokenClaims", "TokenService"]

_TYP = "at+jwt"
#: The one protected header Satchel mints (RFC 7515 §7.1); a token with any other header bytes —
#: another alg, a ``crit``, a ``kid`` — is refused before anything else is looked at.
_HEADER = jose.b64url_encode(json.dumps({"typ": _TYP, "alg": "EdDSA"},
                                        separators=(",", ":")).encode())
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_MAX_TOKEN = 4096
_SIG_BYTES = 64
_NONCE_BYTES = 24
_VERIFIED_MAX = 8192


def _b64url(segment: str) -> bytes:
    """Strict unpadded base64url (RFC 7515 §2) of one token segment."""
    if not _B64URL.fullmatch(segment):
        raise BadInput("not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _derive(root: bytes, purpose: bytes) -> bytes:
    return nacl.hash.blake2b(b"", key=root, person=purpose.ljust(16, b"\0")[:16], digest_size=32,
                             encoder=nacl.encoding.RawEncoder)


def _root(secret: str, what: str) -> bytes:
    try:
        raw = jose.b64url_decode(secret)
    except BadInput:
        raw = secret.encode("utf-8")
    if len(raw) < 32:
        raise BadInput(f"the {what} key must hold at least 32 bytes")
    return _derive(raw, b"satchel-root")


@dataclass(frozen=True, slots=True)
class ServiceKeys:
    """Keys derived from the one service session secret; identical on every replica."""

    token_signing: ed25519.Ed25519PrivateKey
    dek_sealing: bytes
    username_pepper: bytes
    ledger_signing: ed25519.Ed25519PrivateKey
    #: The deployment's identity, the same on every replica that shares the data secret (the
    #: access tokens' ``iss``): not a URL, since replicas may be reached under different ones.
    deployment_id: str
    #: Key-check values (a keyed hash of a constant, never the secret, nothing derived from it
    #: that signs or seals): what the shared database records to tell a replica started with
    #: another data or session secret (holder_api.compose.deployment).
    data_check: str
    session_check: str

    @classmethod
    def from_secret(cls, secret: str, data_secret: str | None = None) -> ServiceKeys:
        """Keys from the session secret, and the long-lived ones from ``data_secret`` if given.

        The session secret only protects tokens: rotating it logs everyone out, nothing more —
        *if* a separate ``data_secret`` (``SATCHEL_DATA_KEY``) holds the username pepper, the
        ledger references and the ledger signing key, which must outlive any token key.
        Without one they come from the session secret (the embedded default), which then must
        never change.
        """
        root = _root(secret, "session")
        data = _root(data_secret, "data") if data_secret is not None else root
        return cls(
            token_signing=ed25519.Ed25519PrivateKey.from_private_bytes(_derive(root, b"token-sign")),
            dek_sealing=_derive(root, b"token-dek-seal"),
            username_pepper=_derive(data, b"username-pepper"),
            ledger_signing=ed25519.Ed25519PrivateKey.from_private_bytes(_derive(data, b"ledger-sign")),
            deployment_id="urn:satchel:deployment:" + _derive(data, b"deployment-id")[:16].hex(),
            data_check=_derive(data, b"key-check")[:16].hex(),
            session_check=_derive(root, b"key-check")[:16].hex(),
        )

    def learner_ref(self, learner_id: str) -> str:
        """The learner's pseudonymous reference in the consent ledger (not the account id)."""
        return nacl.hash.blake2b(f"ledger|{learner_id}".encode(), key=self.username_pepper,
                                 digest_size=16).decode("ascii")

    def username_hash(self, username: str) -> str:
        """Keyed hash of a normalised username (accounts table never holds the name itself)."""
        norm = username.strip().casefold().encode("utf-8")
        return nacl.hash.blake2b(norm, key=self.username_pepper, digest_size=32).decode("ascii")


@dataclass(frozen=True, slots=True)
class TokenClaims:
    learner_id: str
    session_id: str
    epoch: int
    issued_at: int
    expires_at: int
    dek: bytes


class _Memo:
    """Keyed digest of a token that passed every check -> its claims (the vault key unsealed).
    Bounded (oldest out); an entry never outlives its token's expiry by more than the sweep's
    period, nor its session's end on this replica."""

    __slots__ = ("__weakref__", "_clock", "_entries")

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._entries: dict[bytes, TokenClaims] = {}

    def get(self, digest: bytes) -> TokenClaims | None:
        return self._entries.get(digest)

    def put(self, digest: bytes, claims: TokenClaims) -> None:
        if len(self._entries) >= _VERIFIED_MAX:
            del self._entries[next(iter(self._entries))]
        self._entries[digest] = claims

    def drop(self, digest: bytes) -> None:
        self._entries.pop(digest, None)

    def drop_where(self, learner_id: str, session_id: str | None = None) -> None:
        """Drop the learner's entries (of one session only, with ``session_id``)."""
        for digest in [d for d, c in self._entries.items() if c.learner_id == learner_id
                       and session_id in (None, c.session_id)]:
            del self._entries[digest]

    def sweep(self) -> None:
        """Free the entries of expired tokens (``learner_cache.sweep_all`` calls it)."""
        now = int(self._clock().timestamp())
        for digest in [d for d, c in self._entries.items() if c.expires_at <= now]:
            del self._entries[digest]

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    expires_in: int
    claims: TokenClaims


class TokenService:
    """Mints and checks access tokens (signature, type, expiry). Revocation is the caller's."""

    def __init__(self, keys: ServiceKeys, *, ttl: int, issuer: str,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self._keys = keys
        self._clock = clock
        # libsodium verifies Ed25519 in about half the time of OpenSSL through ``cryptography``
        # (bench/bench_api.py); the raw public key is derived once, not per request.
        self._public_raw = keys.token_signing.public_key().public_bytes_raw()
        # Signatures already verified, by keyed digest of the whole token: the same bytes do not
        # need Ed25519 again (about half of an authenticated request's CPU). Only the signature
        # is memoised — issuer, expiry and the vault key are checked and unsealed on every call,
        # and revocation stays the caller's per-request database check. The digests reveal
        # nothing about tokens (random per-process key); the memo is bounded (oldest out).
        self._memo_key = secrets.token_bytes(32)
        # keyed hash of a token that passed every check -> its claims. Holding the unsealed vault
        # key here exposes nothing new: whoever can read this process's memory can read the
        # session key too, and with it unseal any token. Revocation and expiry are still checked
        # on every request (expiry here, revocation by the caller against the database), and the
        # key is kept no longer than the token may serve (see the module's docstring).
        self._verified = _Memo(clock)
        sweep_also(self._verified)
        self._ttl = ttl
        self._issuer = issuer

    @property
    def ttl(self) -> int:
        return self._ttl

    def _digest(self, token: str) -> bytes:
        # ASCII only (checked before): no two strings share one digest
        return hashlib.blake2b(token.encode("ascii"), key=self._memo_key,
                               digest_size=32).digest()

    def remembers(self, token: str) -> bool:
        """Whether these token bytes, and so their vault key, are in this replica's memo."""
        return (isinstance(token, str) and token.isascii()
                and self._verified.get(self._digest(token)) is not None)

    def forget(self, token: str) -> None:
        """Drop the memo's entry for these token bytes (a revocation check refused them)."""
        if isinstance(token, str) and token.isascii():
            self._verified.drop(self._digest(token))

    def forget_session(self, learner_id: str, session_id: str) -> None:
        """Drop the memo's entries of every token of one session (logged out here)."""
        self._verified.drop_where(learner_id, session_id)

    def forget_learner(self, learner_id: str) -> None:
        """Drop the memo's entries of every token of the learner (their sessions ended here)."""
        self._verified.drop_where(learner_id)

    def mint(self, learner_id: str, dek: bytes, *, epoch: int, now: int | None = None,
             session_id: str | None = None) -> AccessToken:
        """A new token; ``session_id`` renews an existing session (revoking it ends both)."""
        iat = int(self._clock().timestamp()) if now is None else now
        sid = session_id or secrets.token_hex(16)
        nonce = secrets.token_bytes(24)
        sealed = nonce + sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
            dek, f"{learner_id}|{sid}".encode(), nonce, self._keys.dek_sealing)
        payload = {"iss": self._issuer, "sub": learner_id, "sid": sid, "ep": epoch, "iat": iat,
                   "exp": iat + self._ttl, "vk": jose.b64url_encode(sealed)}
        signing_input = _HEADER + "." + jose.b64url_encode(
            json.dumps(payload, separators=(",", ":")).encode())
        sig = self._keys.token_signing.sign(signing_input.encode("ascii"))
        token = signing_input + "." + jose.b64url_encode(sig)
        return AccessToken(token, self._ttl, TokenClaims(learner_id, sid, epoch, iat, iat + self._ttl,
                                                         dek))

    def _verify(self, token: str) -> bytes:
        """The payload of a token in exactly the minted shape whose signature verifies."""
        header, _, rest = token.partition(".")
        body, _, sig_b64 = rest.partition(".")
        if header != _HEADER:
            raise Unauthorized("invalid access token")
        sig = _b64url(sig_b64)
        payload = _b64url(body)
        if len(sig) != _SIG_BYTES:
            raise Unauthorized("invalid access token")
        sodium.crypto_sign_open(sig + f"{header}.{body}".encode("ascii"), self._public_raw)
        return payload

    def check(self, token: str, *, now: int | None = None) -> TokenClaims:
        """Header, signature, issuer and expiry; every failure is the same ``Unauthorized``.

        The token is checked as the exact shape Satchel mints (compact JWS, RFC 7515 §7.1, with
        the one fixed header), signature first: nothing in an unverified payload is parsed.
        """
        try:
            # Satchel mints ASCII only; anything else is refused before its digest is taken
            if not isinstance(token, str) or len(token) > _MAX_TOKEN or not token.isascii():
                raise Unauthorized("malformed access token")
            memo = self._digest(token)
            current = int(self._clock().timestamp()) if now is None else now
            known = self._verified.get(memo)
            if known is not None:  # these exact bytes passed every check below before
                if known.expires_at <= current:
                    self._verified.drop(memo)
                    raise Unauthorized("access token expired")
                return known
            payload = self._verify(token)
            claims = json.loads(payload)
            if not isinstance(claims, dict):
                raise Unauthorized("malformed access token")
            sub, sid, ep = claims["sub"], claims["sid"], claims["ep"]
            iat, exp, vk = claims["iat"], claims["exp"], claims["vk"]
            if not (isinstance(sub, str) and isinstance(sid, str) and isinstance(vk, str)
                    and type(ep) is int and type(iat) is int and type(exp) is int):
                raise Unauthorized("malformed access token")
            if claims.get("iss") != self._issuer:
                raise Unauthorized("access token from another issuer")
            if exp <= current:
                raise Unauthorized("access token expired")
            sealed = _b64url(vk)
            dek = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
                sealed[_NONCE_BYTES:], f"{sub}|{sid}".encode(), sealed[:_NONCE_BYTES],
                self._keys.dek_sealing)
            checked = TokenClaims(sub, sid, ep, iat, exp, dek)
            self._verified.put(memo, checked)
        except Unauthorized:
            raise
        except (BadInput, KeyError, ValueError, TypeError, RecursionError, binascii.Error,
                nacl.exceptions.CryptoError) as exc:
            raise Unauthorized("invalid access token") from exc
        return checked
