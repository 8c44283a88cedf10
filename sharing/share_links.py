"""Share links: a presentation for someone without an OpenID4VP verifier (docs/presenting.md;
RFC 9901 §7.2 and §7.3 for the presentation and its check; GDPR Art. 7(1), 25, 32).

https://www.rfc-editor.org/rfc/rfc9901#section-7.2

The learner picks a credential and claim paths; Satchel builds an SD-JWT presentation with only
those disclosures and a KB-JWT whose ``aud`` is the link itself — or, for a W3C credential
(``jwt_vc_json``, ``ldp_vc``), which cannot disclose selectively, a JWT VP of the *whole*
credential, accepted only when the learner chose its root (``claims: [[]]``; see
:mod:`sharing.whole_credentials`) — and seals it under a random key that exists **only in the
link's token**: ``/s/<base64url(lookup ‖ key)>``. The server keeps a
keyed hash of the lookup half (to find the row) and the ciphertext (which it cannot open), so
neither a database copy nor the operator can read or rebuild a link.

Why the view event takes a detour: a view happens while the learner is locked, and the consent
ledger seals every entry under the learner's vault key. So each view is sealed (X25519 sealed box)
to the learner's *inbox public key* in the same transaction that counts it — fail closed: a view
that cannot be recorded is not served — and moved into the ledger as ``share_link_viewed`` (with
the view time and number) the next time the learner calls any share-link endpoint, or whoever
calls :meth:`ShareLinkService.drain_views` at unlock. The public route is rate-limited per client
and size-capped (a token has one exact length).

Why the ledger's connection: the link rows live in the database that also holds the consent
ledger, so each write of a row commits in the transaction that appends its entry
(:class:`wallet.ports.RowActivityLog`): a link is never servable without its
``share_link_created`` entry (nor without the learner's record of it, sealed into the same row:
:mod:`wallet.row_records`), a revocation never happens unrecorded (except that a ledger outage
does not stop it: 503 after it), and a queued view leaves its queue only with its
``share_link_viewed`` entry. One durable commit each (docs/consent.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Required, TypedDict

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from sharing.errors import PresentationNotSupported, ShareLinkUnavailable
from sharing.pdf_links import check_pdf_view, document_bytes, pdf_payload
from sharing.presentations import jwt_vp, sd_jwt_presentation
from sharing.share_tables import share_link_views, share_links
from sharing.signing_keys import SigningKeys
from sharing.verdict import DisclosureCheck, Verdict, ViewCheck, judge
from sharing.whole_credentials import check_stored, check_view, require_whole
from wallet.accounts.budgets import Scope
from wallet.accounts.limits import RateLimiter
from wallet.accounts.models import learners
from wallet.clock import SYSTEM_CLOCK, Clock, iso
from wallet.crypto import DecryptionFailed, InboxKeyPair, VaultKey, open_inbox, seal_to_inbox
from wallet.db import reading, writing
from wallet.errors import BadInput, NotFound, SatchelError, Unavailable
from wallet.formats.model import PDF_FORMAT, ClaimPath
from wallet.formats.sd_jwt import UnverifiedSdJwt, process_payload, verify_key_binding
from wallet.formats.sd_jwt_vc import ResolvedIssuerKey, verify_sd_jwt_vc
from wallet.formats.traits import traits_of
from wallet.jose import b64url_decode, b64url_encode, public_key_from_jwk
from wallet.ports import Activity, ActivityKind, RowActivityLog
from wallet.row_records import open_row_records, seal_row_record
from wallet.vault import StoredCredential, VaultStore

__all__ = ["ShareLink", "ShareLinkService", "ShareLinkState", "ShareView", "SharedCredential"]

_LOOKUP, _KEY = 16, 32
TOKEN_LENGTH = len(b64url_encode(b"\0" * (_LOOKUP + _KEY)))
#: where the learner's record of a link was kept before it moved into the link's row (still
#: read for those links)
_RECORDS = "share-links"
_TABLE = "share_links"
_INBOX_KEY = "inbox-key"
_AAD = b"satchel/share-link/v1\x00"
MAX_EXPIRES_IN = 90 * 24 * 3600
MAX_VIEWS = 1000
#: What a whole-credential link discloses, for the ledger and its receipts (it has no paths).
_WHOLE_CATEGORY = ("whole_credential",)
_UNAVAILABLE = "the share link store is unavailable"

log = logging.getLogger(__name__)


class SharedCredential(TypedDict, total=False):
    """The credential as a link describes it: sealed into the link at creation (a document)."""

    id: Required[str]
    format: Required[str]
    issuer: Required[str | None]
    title: Required[str | None]
    types: Required[list[str]]
    issuer_trusted: Required[bool]
    whole_credential: bool  # W3C credentials, shared whole
    signature_at_import: str | None  # whole credentials: what intake found
    document: str  # "pdf": the link serves the original file (sharing.pdf_links)


@dataclass(frozen=True, slots=True)
class ShareView:
    """What a viewer gets: the presentation, its check and verdict, the disclosed claims."""

    presentation: str
    verified: ViewCheck
    verdict: Verdict  # drawn from ``verified`` once (sharing.verdict): every rendering shows it
    claims: dict[str, Any]  # the disclosed claims, a JSON document
    credential: SharedCredential
    expires_at: datetime
    views_left: int
    raw: str | None = None  # a whole credential's original text (a JAdES seal needs its bytes)
    document_url: str | None = None  # a PDF link: where the original file is served


@dataclass(frozen=True, slots=True)
class ShareLink:
    """A link just created: its URL exists only here (the server cannot rebuild it)."""

    id: str
    url: str
    expires_at: datetime
    max_views: int


@dataclass(frozen=True, slots=True)
class ShareLinkState:
    """One of the learner's links as listed: what it shares, and how far it has been used."""

    id: str
    credential_id: str | None
    claims: list[list[str | int | None]]
    whole_credential: bool
    created_at: datetime
    expires_at: datetime
    max_views: int
    views: int
    state: Literal["active", "revoked", "expired", "exhausted"]


class _Claimed(Exception):  # noqa: N818 - not an error: another drain took the view first
    """Raised inside a view's ledger transaction to roll its entry back."""


def _aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


class ShareLinkService:
    """Create, view (public), list and revoke share links; feed their views to the ledger."""

    def __init__(self, *, engine: AsyncEngine, vault: VaultStore, activity: RowActivityLog,
                 public_url: str, pepper: bytes, limiter: RateLimiter,
                 view_limit: tuple[int, int] = (60, 60),
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self._engine = engine
        self._vault = vault
        self._activity = activity
        self._base = public_url.rstrip("/")
        self._pepper = hashlib.blake2b(b"share-link-lookup", key=pepper[:64]).digest()
        self._limiter = limiter
        self._view_limit = view_limit
        self._clock = clock

    def _lookup_hash(self, lookup: bytes) -> str:
        return hmac.new(self._pepper, lookup, "sha256").hexdigest()

    # ------------------------------------------------------------------------------- create

    async def create(self, learner_id: str, dek: VaultKey, credential_id: str,
                     claims: Sequence[ClaimPath], *, expires_in: int = 7 * 24 * 3600,
                     max_views: int = 10) -> ShareLink:
        if not 60 <= expires_in <= MAX_EXPIRES_IN:
            raise BadInput(f"expires_in must be between 60 and {MAX_EXPIRES_IN} seconds")
        if not 1 <= max_views <= MAX_VIEWS:
            raise BadInput(f"max_views must be between 1 and {MAX_VIEWS}")
        await self.drain_views(learner_id, dek)
        vault = self._vault.for_learner(learner_id, dek)
        stored = await vault.credentials.get(credential_id)
        row = traits_of(stored.format)  # its row (wallet.formats.traits)
        if row is None:  # a record of a format this version does not know
            raise PresentationNotSupported("this version cannot share a credential of this "
                                           "format")
        carries = row.share_link
        document = carries == "document"  # the file itself is served (sharing.pdf_links)
        whole = carries != "selective"
        if whole:
            require_whole(claims)
            paths: list[ClaimPath] = []
        else:
            paths = self._sd_jwt_paths(stored, claims)
        link_id = str(uuid.uuid4())
        lookup, key = secrets.token_bytes(_LOOKUP), secrets.token_bytes(_KEY)
        url = f"{self._base}/s/{b64url_encode(lookup + key)}"
        now = self._clock()
        nonce = secrets.token_urlsafe(16)
        holder = None if document else await SigningKeys(vault.holder_keys).for_credential(
            stored)
        verification = stored.data.get("verification")  # None: a record from before checks
        signature_at_import = verification.get("signature") if verification else None
        credential: SharedCredential = {
            "id": stored.id, "format": stored.format, "issuer": stored.issuer,
            "title": stored.title, "types": list(stored.types),
            "issuer_trusted": bool(verification and verification.get("issuer_trusted"))}
        # how intake established the issuer key, and what it found: a view must not present a
        # key the credential supplied itself as the issuer's (sharing.issuer_keys)
        key_source = verification.get("key_source") if verification else None
        at_import = {"key_source": key_source,
                     "problems": list(verification.get("problems", ())) if verification else []}
        payload: dict[str, Any] = {
            "v": 1, "link_id": link_id, "aud": url, "nonce": nonce,
            "issuer_jwk": stored.data.get("issuer_jwk"), "credential": credential,
            "claims": [list(p) for p in paths], "created_at": iso(now),
            "at_import": at_import}
        if document:
            payload.update(await pdf_payload(stored, now), presentation="")
            credential["whole_credential"] = True
            credential["document"] = PDF_FORMAT
            credential["signature_at_import"] = signature_at_import
        elif whole:
            if holder is None:  # SigningKeys never gives a W3C credential none; stay closed
                raise PresentationNotSupported("no holder key to sign the presentation")
            await check_stored(stored.format, stored.raw, stored.data.get("issuer_jwk"), now,
                               key_source=key_source)
            payload["presentation"] = jwt_vp([stored], holder_key=holder, aud=url, nonce=nonce,
                                             now=now, lifetime=expires_in)
            payload.update(raw=stored.raw, holder_jwk=stored.data.get("holder_jwk"))
            credential["whole_credential"] = True
            credential["signature_at_import"] = signature_at_import
        else:
            payload["presentation"], _ = sd_jwt_presentation(
                stored, paths, holder_key=holder, aud=url, nonce=nonce, now=now)
        expires = now + timedelta(seconds=expires_in)
        sealed = VaultKey(key).seal(json.dumps(payload, separators=(",", ":")).encode(),
                                    _AAD + link_id.encode())
        details: dict[str, str | int | bool | None] = {
            "link_id": link_id, "expires_at": iso(expires), "max_views": max_views}
        if whole:
            details["whole_credential"] = True  # every claim: there are no paths to list
        # the disclosure (the servable row), what the learner's list shows (sealed under the
        # learner's vault key, in the row) and its ledger entry, one transaction of the
        # ledger's database: fail closed, a link is never servable without its entry
        record = seal_row_record(dek, _TABLE, link_id, {
            "credential_id": stored.id, "claims": [[]] if whole else [list(p) for p in paths],
            "whole_credential": whole, "created_at": iso(now)})
        async with self._activity.recording(learner_id, dek, Activity(
                kind=ActivityKind.SHARE_LINK_CREATED, counterparty=f"share_link:{link_id}",
                claims=tuple(paths), credential_ids=(stored.id,), details=details,
                data_categories=_WHOLE_CATEGORY if whole else ())) as conn:
            await conn.execute(insert(share_links).values(
                id=link_id, learner_id=learner_id, lookup_hash=self._lookup_hash(lookup),
                created_at=now, expires_at=expires, max_views=max_views, views=0,
                revoked=False, sealed=sealed, sealed_record=record))
        return ShareLink(link_id, url, expires, max_views)

    @staticmethod
    def _sd_jwt_paths(stored: StoredCredential, claims: Sequence[ClaimPath]) -> list[ClaimPath]:
        """The chosen paths, each a selectively disclosable claim (or inside / above one)."""
        paths = sorted({tuple(p) for p in claims}, key=repr)
        disclosable = {tuple(p) for p in stored.data.get("disclosable") or ()}
        if not all(p and all(s is None or isinstance(s, str | int) for s in p) for p in paths):
            raise BadInput("claims must be claim paths (arrays of names, indices or null)")
        if not all(p in disclosable or any(p[:len(d)] == d for d in disclosable)
                   or any(d[:len(p)] == p for d in disclosable) for p in paths):
            raise BadInput("a claim path is not a selectively disclosable claim of the credential")
        return paths

    # --------------------------------------------------------------------------------- view

    def _split(self, token: str) -> tuple[bytes, bytes]:
        if not isinstance(token, str) or len(token) != TOKEN_LENGTH:
            raise ShareLinkUnavailable("no such share link")
        try:
            raw = b64url_decode(token)
        except SatchelError:
            raise ShareLinkUnavailable("no such share link") from None
        if len(raw) != _LOOKUP + _KEY:
            raise ShareLinkUnavailable("no such share link")
        return raw[:_LOOKUP], raw[_LOOKUP:]

    async def _count_view(self, token: str, *, client: str
                          ) -> tuple[Any, dict[str, Any], datetime, int]:
        """Count one view (recorded for the learner, fail closed) and open the sealed payload."""
        count, window = self._view_limit
        await self._limiter.hit(Scope.SHARE_LINK_VIEW, client, limit=count, window=window)
        lookup, key = self._split(token)
        now = self._clock()
        async with reading(self._engine, _UNAVAILABLE) as conn:
            row = (await conn.execute(select(share_links).where(
                share_links.c.lookup_hash == self._lookup_hash(lookup)))).first()
        if row is None or row.revoked or row.sealed is None or row.views >= row.max_views:
            raise ShareLinkUnavailable("no such share link")
        if _aware(row.expires_at) <= now:
            await self._wipe(row.id)
            raise ShareLinkUnavailable("no such share link")
        try:
            payload = json.loads(VaultKey(key).open(bytes(row.sealed), _AAD + row.id.encode()))
        except (DecryptionFailed, ValueError):
            raise ShareLinkUnavailable("no such share link") from None
        view_no = row.views + 1
        whole = payload["credential"].get("whole_credential") is True
        event = json.dumps({"link_id": row.id, "viewed_at": iso(now), "view": view_no,
                            "credential_id": payload["credential"]["id"],
                            "claims": payload["claims"], "whole_credential": whole}).encode()
        async with writing(self._engine, "the share link view could not be recorded") as conn:
            done = await conn.execute(update(share_links).where(
                share_links.c.id == row.id, share_links.c.views == row.views,
                share_links.c.revoked.is_(False)).values(
                views=view_no, sealed=None if view_no >= row.max_views else row.sealed))
            if done.rowcount != 1:
                raise ShareLinkUnavailable("no such share link")
            public = (await conn.execute(select(learners.c.inbox_public).where(
                learners.c.id == row.learner_id))).scalar_one()
            await conn.execute(insert(share_link_views).values(
                id=str(uuid.uuid4()), learner_id=row.learner_id,
                sealed=seal_to_inbox(bytes(public), event)))
        return row, payload, now, view_no

    async def view(self, token: str, *, client: str) -> ShareView:
        """Count one view and check what it serves (offline)."""
        row, payload, now, view_no = await self._count_view(token, client=client)
        whole = payload["credential"].get("whole_credential") is True
        document_url = None
        lifetime = _aware(row.expires_at) - _aware(row.created_at) + timedelta(minutes=5)
        verified: ViewCheck
        if payload["credential"].get("document") == PDF_FORMAT:
            verified, claims = await check_pdf_view(payload, now=now, checked_at=iso(now))
            document_url = f"{self._base}/s/{token}/document.pdf"
        elif whole:
            served = await check_view(payload, now=now, max_age=lifetime, checked_at=iso(now))
            verified, claims = served.verified, served.claims
        else:
            verified, claims = self._check(payload, lifetime, now), self._claims(payload)
        return ShareView(payload["presentation"], verified, judge(verified), claims,
                         payload["credential"], _aware(row.expires_at),
                         row.max_views - view_no,
                         raw=payload["raw"] if whole and document_url is None else None,
                         document_url=document_url)

    async def document(self, token: str, *, client: str) -> bytes:
        """The original file of a PDF link, byte for byte (one view, recorded like any)."""
        _row, payload, _now, _no = await self._count_view(token, client=client)
        if payload["credential"].get("document") != PDF_FORMAT:
            raise ShareLinkUnavailable("this share link has no document")
        return document_bytes(payload)


    async def _wipe(self, link_id: str) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(update(share_links).where(share_links.c.id == link_id)
                                   .values(sealed=None))
        except SQLAlchemyError:
            pass  # expired either way; the next view tries again

    @staticmethod
    def _check(payload: dict[str, Any], lifetime: timedelta, now: datetime) -> DisclosureCheck:
        """Verify what is served, as a verifier would: issuer signature, disclosures, KB-JWT."""
        at_import = payload.get("at_import") or {}
        trusted = payload["credential"].get("issuer_trusted")

        def check(signature: str, key_binding: str) -> DisclosureCheck:
            return DisclosureCheck(
                signature=signature, key_binding=key_binding,
                issuer_trusted=trusted if isinstance(trusted, bool) else None,
                # the issuer key came from its metadata or an anchored x5c (never from the
                # credential): intake's findings, e.g. about status
                problems=tuple(at_import.get("problems") or ()), checked_at=iso(now))

        jwk = payload.get("issuer_jwk")
        if not isinstance(jwk, dict):
            return check("not_checked", "not_checked")
        try:
            unverified = UnverifiedSdJwt.parse(payload["presentation"])
            verified = verify_sd_jwt_vc(
                unverified, ResolvedIssuerKey(public_key_from_jwk(jwk), "stored", jwk), now=now,
                accept_legacy_typ=_legacy_typ(payload["credential"]["format"]))
        except SatchelError:
            return check("invalid", "not_checked")
        if verified.holder_jwk is None:
            return check("valid", "none")
        try:
            verify_key_binding(verified, expected_aud=payload["aud"],
                               expected_nonce=payload["nonce"], now=now, max_age=lifetime)
        except SatchelError:
            return check("valid", "invalid")
        return check("valid", "valid")

    @staticmethod
    def _claims(payload: dict[str, Any]) -> dict[str, Any]:
        try:
            unverified = UnverifiedSdJwt.parse(payload["presentation"])
            claims, _alg, _found = process_payload(unverified.unverified_claims(),
                                                   unverified.disclosures)
        except SatchelError:
            return {}
        claims.pop("cnf", None)
        return claims

    # ---------------------------------------------------------------------- list / revoke

    async def list(self, learner_id: str, dek: VaultKey) -> list[ShareLinkState]:
        await self.drain_views(learner_id, dek)
        async with reading(self._engine, _UNAVAILABLE) as conn:
            rows = (await conn.execute(select(
                share_links.c.id, share_links.c.created_at, share_links.c.expires_at,
                share_links.c.max_views, share_links.c.views, share_links.c.revoked,
                share_links.c.sealed_record).where(
                share_links.c.learner_id == learner_id))).all()
        records = await self._records(learner_id, dek, rows)
        now = self._clock()
        out = []
        for r in sorted(rows, key=lambda r: _aware(r.created_at), reverse=True):
            rec = records.get(r.id, {})
            state: Literal["active", "revoked", "expired", "exhausted"] = (
                "revoked" if r.revoked else "expired" if _aware(r.expires_at) <= now
                else "exhausted" if r.views >= r.max_views else "active")
            out.append(ShareLinkState(
                id=r.id, credential_id=rec.get("credential_id"), claims=rec.get("claims", []),
                whole_credential=rec.get("whole_credential") is True,
                created_at=_aware(r.created_at), expires_at=_aware(r.expires_at),
                max_views=r.max_views, views=r.views, state=state))
        return out

    async def _records(self, learner_id: str, dek: VaultKey,
                       rows: Sequence[Any]) -> dict[str, dict[str, Any]]:
        """The learner's record of each link that can be read: opened from its row, or, for a
        link created before the records moved into the rows, from the vault. A record that
        does not open is left out (logged): the link is listed by its id and its row's state,
        never hidden, and one bad row never stops the list."""
        return await open_row_records(
            dek, _TABLE, {r.id: r.sealed_record for r in rows},
            self._vault.for_learner(learner_id, dek).records(_RECORDS).list, "share link")

    async def revoke(self, learner_id: str, dek: VaultKey, link_id: str) -> None:
        if not isinstance(link_id, str) or len(link_id) > 64:
            raise NotFound("no such share link")
        live = (share_links.c.id == link_id, share_links.c.learner_id == learner_id,
                share_links.c.revoked.is_(False))
        async with reading(self._engine, _UNAVAILABLE) as conn:
            found = (await conn.execute(select(share_links.c.id).where(*live))).first()
        if found is None:
            raise NotFound("no such share link")

        def stop() -> Any:
            return update(share_links).where(*live).values(revoked=True, sealed=None)

        # the revocation with its ledger entry, one transaction: a crash never leaves a
        # revocation the ledger does not name (a concurrent revocation came first: NotFound,
        # and no second entry). Stopping a disclosure is always safe, so a ledger outage does
        # not hold it back (503 after it).
        try:
            await self.drain_views(learner_id, dek)
            async with self._activity.recording(learner_id, dek, Activity(
                    kind=ActivityKind.SHARE_LINK_REVOKED, counterparty=f"share_link:{link_id}",
                    details={"link_id": link_id})) as conn:
                if (await conn.execute(stop())).rowcount != 1:
                    raise NotFound("no such share link")
        except Unavailable:
            async with writing(self._engine, _UNAVAILABLE) as conn:
                await conn.execute(stop())
            raise

    # -------------------------------------------------------------------------- the ledger

    async def drain_views(self, learner_id: str, dek: VaultKey) -> int:
        """Move views waiting for this learner into the consent ledger; how many this call
        recorded."""
        async with reading(self._engine, _UNAVAILABLE) as conn:
            rows = (await conn.execute(select(share_link_views.c.id,
                                              share_link_views.c.sealed).where(
                share_link_views.c.learner_id == learner_id))).all()
        if not rows:
            return 0
        sealed_key = await self._vault.for_learner(learner_id, dek).records(_INBOX_KEY).get(
            "current")
        inbox = InboxKeyPair.open_private(dek, bytes.fromhex(sealed_key["sealed"]))
        events = []
        for r in rows:
            try:
                events.append((r.id, json.loads(open_inbox(inbox, bytes(r.sealed)))))
            except (DecryptionFailed, ValueError):
                events.append((r.id, None))  # unreadable: dropped below, never half-recorded
        events.sort(key=lambda e: (e[1] or {}).get("viewed_at", ""))
        recorded = 0
        for row_id, ev in events:
            if ev is None:  # unreadable: dropped, never half-recorded
                async with writing(self._engine, _UNAVAILABLE) as conn:
                    await conn.execute(delete(share_link_views).where(
                        share_link_views.c.id == row_id))
                continue
            whole = ev.get("whole_credential") is True
            details = {"link_id": ev["link_id"], "viewed_at": ev["viewed_at"], "view": ev["view"]}
            if whole:
                details["whole_credential"] = True
            # the view's row is claimed in the transaction that appends its entry: a crash
            # leaves both or neither, and of two drains at once only one records it
            try:
                async with self._activity.recording(learner_id, dek, Activity(
                        kind=ActivityKind.SHARE_LINK_VIEWED, counterparty=f"share_link:{ev['link_id']}",
                        claims=tuple(tuple(p) for p in ev["claims"]),
                        credential_ids=(ev["credential_id"],), details=details,
                        data_categories=_WHOLE_CATEGORY if whole else ())) as conn:
                    if (await conn.execute(delete(share_link_views).where(
                            share_link_views.c.id == row_id))).rowcount != 1:
                        raise _Claimed
            except _Claimed:  # another drain recorded it: this entry was rolled back
                continue
            recorded += 1
        return recorded


def _legacy_typ(fmt: object) -> bool:
    """Whether a link's SD-JWT was stored under the legacy ``vc+sd-jwt`` spelling."""
    row = traits_of(fmt)
    return row is not None and row.legacy_typ
