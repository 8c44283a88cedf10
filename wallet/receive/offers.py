"""OpenID4VCI 1.0 offers as the API serves them: resolve, accept, authorize, poll, decline.

https://openid.net/specs/openid-4-verifiable-credential-issuance-1_0.html — §4 (offer), §5
(authorization code flow), §6 (token, ``tx_code``), §7-§8 (nonce, proofs, credential), §9
(deferred), §10 (encryption), §11 (notification), §12 (metadata).

Why: the protocol steps live in :mod:`wallet.oid4vci`; this class adds what a learner's wallet owes
around them. Every flow state (resolved offer, PKCE verifier, access token, deferred transaction)
is a record sealed in the learner's vault, so nothing of it is readable at rest and nothing is
logged. Proofs are signed with the learner's holder key (an alg the issuer accepts); every received
credential goes through :class:`wallet.intake.CredentialIntake` and must be bound to one of the
learner's holder keys and signed by a key Satchel could check, else the issuer is told
``credential_failure`` and nothing is stored (all or nothing per response). Issuer misbehaviour
(5xx, garbage, timeouts, oversize answers) becomes :class:`~wallet.receive.errors.IssuerFailed`
(``issuer_failed``), a fault of the issuer, not of the wallet: the learner sees why. Polling a
``deferred`` offer is the exception: there an outage (:class:`wallet.errors.UpstreamUnavailable`:
HTTP 5xx or 429, a timeout, a refused or reset connection, a temporary DNS failure) leaves the
offer as it was and raises :class:`~wallet.receive.errors.IssuerUnavailable` with ``retry_after``,
because the issuer has already agreed to issue and the next poll may well succeed. Anything else
the issuer gets wrong while polled (a 4xx without a spec code, garbage, an oversize or mistyped
body, a name that does not resolve) is still ``issuer_failed``; the offer is kept either way.

Each transaction of a poll stands on its own. One that fails is backed off (polled again no earlier
than the issuer's ``interval``, or its ``Retry-After`` after an outage) and the others are still
polled, so a transaction the issuer keeps failing never starves a ready sibling. One the issuer
says it will never deliver (``invalid_transaction_id``, ``credential_request_denied``) is dropped
from the offer, and an offer with nothing left is deleted. What arrived is verified and stored
(with its ledger entry) whatever happened to the siblings, and the outcome is ``deferred`` with those
credentials and a :class:`~wallet.receive.results.TransactionProblem` (the error a poll without
deliveries would have raised; an ``issued`` outcome carries it when a dropped transaction ended the
offer). The issuer has delivered: dropping its credentials because a sibling failed would lose them
for good. A failure of the offer's access (a refused token or refresh, a store that cannot keep a
refreshed token) is no transaction's fault: it stops the poll and backs off every due transaction
alike.

What an acceptance received is stored in one vault transaction: the credentials, the offer's new
state and the ``credential_accepted`` ledger entry, staged in the vault's ledger outbox
(:mod:`wallet.ledger_outbox`), which moves it to the consent ledger once the answer is out, or
before anything next reads or appends to the learner's ledger (docs/consent.md). One durable
commit on the learner's path, and never a credential without its entry. Declining is the same:
the offer's deletion and its ``credential_declined`` entry are one vault transaction.

The back-off is sealed into the record even when nothing was delivered (best effort: the poll's
answer stands if the store is down), so a poll before it runs out is answered from the record
(``deferred``, with ``retry_after`` and the last ``problem``) and the issuer is not contacted.

A refreshed access token (RFC 6749 §6) is sealed into the offer record *before* it is used: an
issuer that rotates refresh tokens has invalidated the old one, so losing the new set to a
failure later in the same poll would leave the offer unable to ever authenticate again.

An offer nothing was issued for yet (``pending``, ``authorization_required``) expires ``ttl``
seconds after it was created (``SATCHEL_INBOX_TTL``): it is no longer listed, and reading,
accepting or declining it raises :class:`~wallet.receive.errors.OfferExpired` and deletes it. Being
sealed in the learner's vault, it can only be purged while the learner is unlocked, so expiry is
enforced on every read; a ``deferred`` offer never expires here (the issuer already agreed to
issue; it decides when).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from wallet.clock import SYSTEM_CLOCK, Clock, iso
from wallet.credentials import CredentialDetail
from wallet.crypto import HolderKey, RecordUnreadable, VaultKey, generate_holder_key
from wallet.errors import (
    BadInput,
    FetchRefused,
    NotFound,
    SatchelError,
    Unavailable,
    UpstreamError,
    UpstreamUnavailable,
)
from wallet.intake import CredentialIntake, IntakeResult
from wallet.jose import jwk_thumbprint
from wallet.ledger_outbox import LedgerOutbox
from wallet.oid4vci import (
    CredentialConfiguration,
    Deferred,
    IssuanceClient,
    IssuedCredentials,
    NotificationEvent,
    ResolvedOffer,
    TokenSet,
    parse_authorization_callback,
)
from wallet.oid4vci.errors import (
    CredentialRequestDenied,
    ExpiredToken,
    InvalidGrant,
    InvalidIssuerMetadata,
    InvalidToken,
    InvalidTransactionId,
    UnsupportedProofAlgorithm,
)
from wallet.ports import Activity, ActivityKind, Fetcher
from wallet.receive.errors import (
    HolderBindingFailed,
    IssuanceFailed,
    IssuerFailed,
    IssuerUnavailable,
    OfferExpired,
    OfferNotSaved,
    OfferStateConflict,
)
from wallet.receive.offer_records import OfferRecord
from wallet.receive.results import (
    AcceptOutcome,
    Offer,
    OfferedCredential,
    OfferIssuer,
    TransactionProblem,
)
from wallet.trust import TrustList
from wallet.vault import LearnerVault, VaultStore

__all__ = ["OFFER_CATEGORY", "AcceptOutcome", "OfferFlow"]

log = logging.getLogger(__name__)
T = TypeVar("T")

OFFER_CATEGORY = "oid4vci-offer"
_HOLDER_ALGS = ("ES256", "EdDSA")
_EXPIRING_STATES = ("pending", "authorization_required")  # nothing issued yet
#: copies one acceptance may ask for, whatever the issuer's batch size: its ledger entry names
#: every credential, and the consent ledger takes at most 64 ids per entry (consent.events)
MAX_COPIES = 64


def _inbox_item(record: OfferRecord) -> dict[str, str]:
    """An offer pushed to the inbox: its item's id for the ledger entry (the key the inbox's own
    entries use, so the history joins an item's arrival to what became of it)."""
    item = record.inbox_item_id
    return {} if item is None else {"item_id": item}


class OfferFlow:
    def __init__(self, *, vault: VaultStore, intake: CredentialIntake,
                 outbox: LedgerOutbox, fetcher: Fetcher, trust: TrustList, public_url: str,
                 ttl: float = 30 * 86400, clock: Clock = SYSTEM_CLOCK,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._vault, self._intake = vault, intake
        self._outbox = outbox
        self.ttl = ttl
        self._fetcher, self._trust = fetcher, trust
        self.client_id = public_url
        self.default_redirect_uri = public_url + "/oid4vci/callback"
        self._clock, self._sleep = clock, sleep

    # ------------------------------------------------------------------------------ helpers
    def _client(self) -> IssuanceClient:
        return IssuanceClient(self._fetcher, clock=self._clock, sleep=self._sleep)

    @staticmethod
    async def _guard(step: Awaitable[T]) -> T:
        """Run one network step; an issuer's failure becomes a 4xx ``issuer_failed``."""
        try:
            return await step
        except FetchRefused:
            raise
        except UpstreamError as exc:
            raise OfferFlow._issuer_failed(exc) from exc

    @staticmethod
    def _issuer_failed(exc: UpstreamError) -> IssuerFailed:
        return IssuerFailed(exc.detail, code=exc.code if exc.code != "upstream_error"
                            else "issuer_failed")

    @staticmethod
    def _poll_error(exc: SatchelError, due: Deferred) -> SatchelError:
        """What a deferred poll answers for ``exc``: an outage is retryable, the rest is not."""
        if isinstance(exc, FetchRefused) or not isinstance(exc, UpstreamError):
            return exc  # our own refusal, or a typed answer (invalid_grant, offer_not_saved ...)
        if isinstance(exc, UpstreamUnavailable):
            wait = max(due.interval, exc.retry_after or 0)
            return IssuerUnavailable(exc.detail + "; the offer is kept, poll again later",
                                     retry_after=wait)
        return OfferFlow._issuer_failed(exc)

    def _records(self, learner_id: str, dek: VaultKey) -> Any:
        return self._vault.for_learner(learner_id, dek).records(OFFER_CATEGORY)

    def summary(self, offer_id: str, record: OfferRecord,
                languages: Sequence[str] = ("en",),
                resolved: ResolvedOffer | None = None) -> Offer:
        """The offer as the API shows it; ``resolved``: ``record.resolved`` already parsed."""
        if resolved is None:
            resolved = ResolvedOffer.from_json(record.resolved)
        lang = languages[0] if languages else None
        iss = resolved.credential_issuer
        grant = resolved.offer.pre_authorized_code
        return Offer(
            id=offer_id, status=record.state,
            issuer=OfferIssuer(iss, self._trust.issuer_name(iss) or resolved.issuer.name(lang),
                               self._trust.issuer_trusted(iss)),
            credentials=tuple(OfferedCredential(c.id, c.format, c.name(lang))
                              for c in resolved.configurations()),
            created_at=record.created_at,
            tx_code=grant.tx_code if grant is not None else None,
            retry_after=self._retry_after(record) if record.state == "deferred" else None)

    def _expired(self, record: OfferRecord) -> bool:
        created = record.created_at
        if record.state not in _EXPIRING_STATES or created is None:
            return False
        try:
            at = datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return False
        return at + self.ttl <= self._clock().timestamp()

    async def _load(self, learner_id: str, dek: VaultKey, offer_id: str, *,
                    keys: Callable[[OfferRecord, ResolvedOffer], bool] = lambda *_: False,
                    ) -> tuple[OfferRecord, ResolvedOffer, list[HolderKey]]:
        """The offer's record, parsed, and — when ``keys(record, resolved)`` — the learner's
        holder keys (oldest first; else none), read in one vault session before anything
        contacts the issuer."""
        lv = self._vault.for_learner(learner_id, dek)
        held: list[HolderKey] = []
        async with lv.reading() as reads:
            record = OfferRecord.from_record(await reads.records(OFFER_CATEGORY).get(offer_id))
            expired = self._expired(record)
            if not expired:
                resolved = ResolvedOffer.from_json(record.resolved)
                if keys(record, resolved):
                    held = await reads.holder_keys.list()
        if expired:
            with contextlib.suppress(NotFound):  # a concurrent read purged it first
                await lv.records(OFFER_CATEGORY).delete(offer_id)
            raise OfferExpired("this offer has expired and was deleted")
        return record, resolved, held

    # ------------------------------------------------------------------------------ offers
    async def create(self, learner_id: str, dek: VaultKey, offer_input: str | dict[str, Any], *,
                     source: str = "api", languages: Sequence[str] = ("en",),
                     inbox_item_id: str | None = None) -> Offer:
        """``inbox_item_id``: the inbox item the offer was pushed as; every ledger entry of what
        becomes of the offer (accepted now or after a sign-in or a deferral, declined) names it."""
        resolved = await self._guard(self._client().resolve_offer(offer_input))
        offer_id = str(uuid.uuid4())
        record = OfferRecord(resolved.to_json(), "pending", source=source,
                             created_at=iso(self._clock()), inbox_item_id=inbox_item_id)
        await self._records(learner_id, dek).put(offer_id, record.to_record())
        return self.summary(offer_id, record, languages, resolved)  # parsed once, just above

    async def list_all(self, learner_id: str, dek: VaultKey,
                   languages: Sequence[str] = ("en",)) -> list[Offer]:
        records = self._records(learner_id, dek)
        live = []
        for offer_id, stored in await records.list():
            try:
                record = OfferRecord.from_record(stored)
            except RecordUnreadable:  # one bad record must not hide the others: skipped, by id
                log.warning("offer record %s cannot be read; left out of the list", offer_id)
                continue
            if self._expired(record):
                with contextlib.suppress(NotFound):  # purged on read: no sweep opens a vault
                    await records.delete(offer_id)
            else:
                live.append(self.summary(offer_id, record, languages))
        return live

    async def get(self, learner_id: str, dek: VaultKey, offer_id: str,
                  languages: Sequence[str] = ("en",)) -> Offer:
        record, resolved, _ = await self._load(learner_id, dek, offer_id)
        return self.summary(offer_id, record, languages, resolved)

    async def delete(self, learner_id: str, dek: VaultKey, offer_id: str) -> None:
        await self._records(learner_id, dek).delete(offer_id)

    async def decline(self, learner_id: str, dek: VaultKey, offer_id: str) -> None:
        """Forget the offer (pending, waiting for an authorization, or deferred).

        A record this version cannot read is declined too (it could never be accepted here, and
        the learner must be able to clear it): deleted, its entry naming no issuer (there is none
        to read) but the offer's id and ``unreadable``."""
        try:
            record, resolved, _ = await self._load(learner_id, dek, offer_id)
        except RecordUnreadable:
            activity = Activity(kind=ActivityKind.CREDENTIAL_DECLINED,
                                details={"offer_id": offer_id, "unreadable": True})
        else:
            activity = Activity(kind=ActivityKind.CREDENTIAL_DECLINED,
                                counterparty=resolved.credential_issuer,
                                counterparty_name=resolved.issuer.name(),
                                details={"source": record.source, **_inbox_item(record)})
        # the offer's deletion and its ledger entry (staged in the outbox): one vault
        # transaction. A concurrent decline deleted it first: NotFound, and no second entry
        async with self._vault.for_learner(learner_id, dek).atomic() as tx:
            staged = await self._outbox.stage(tx, activity)
            await tx.records(OFFER_CATEGORY).delete(offer_id)
        self._outbox.flush_soon(learner_id, dek, staged)  # the ledger's commit: after the answer

    async def accept(self, learner_id: str, dek: VaultKey, offer_id: str, *,
                     tx_code: str | None = None, copies: int = 1,
                     redirect_uri: str | None = None,
                     languages: Sequence[str] = ("en",)) -> AcceptOutcome:
        # what signs the proofs (pre-authorized), or what a delivery must be bound to (deferred)
        record, resolved, keys = await self._load(
            learner_id, dek, offer_id, keys=lambda record, resolved: (
                record.state == "deferred" or resolved.offer.pre_authorized_code is not None))
        if record.state == "deferred":
            return await self._poll(learner_id, dek, offer_id, record, resolved, languages,
                                    {k.kid for k in keys})
        batch = min(resolved.issuer.batch_size or 1, MAX_COPIES)
        if not 1 <= copies <= batch:
            raise BadInput(f"copies must be between 1 and {batch} for this issuer")
        client = self._client()
        if resolved.offer.pre_authorized_code is not None:
            token = await self._guard(client.token_pre_authorized(resolved, tx_code))
            return await self._issue(learner_id, dek, offer_id, record, resolved, token, copies,
                                     languages, keys)
        start = await self._guard(client.start_authorization_pushed(  # PAR when offered
            resolved, redirect_uri=redirect_uri or self.default_redirect_uri,
            client_id=self.client_id))
        record = replace(record, state="authorization_required", authorization=start,
                         copies=copies)
        await self._records(learner_id, dek).replace(offer_id, record.to_record())
        return AcceptOutcome("authorization_required", offer_id=offer_id,
                             authorization_url=start.url, redirect_uri=start.redirect_uri)

    async def authorize(self, learner_id: str, dek: VaultKey, offer_id: str, callback_url: str, *,
                        languages: Sequence[str] = ("en",)) -> AcceptOutcome:
        """Finish the authorization code flow with the URL the browser was redirected to."""
        record, resolved, keys = await self._load(
            learner_id, dek, offer_id,
            keys=lambda record, _: record.state == "authorization_required")
        start = record.authorization
        if record.state != "authorization_required" or start is None:
            raise OfferStateConflict("this offer is not waiting for an authorization")
        code, oauth_state = parse_authorization_callback(callback_url)
        token = await self._guard(self._client().token_authorization_code(
            resolved, start, code, oauth_state))
        return await self._issue(learner_id, dek, offer_id, record, resolved, token,
                                 record.copies or 1, languages, keys)

    # ------------------------------------------------------------------------------ issuance
    async def _signers(self, lv: LearnerVault, keys: Sequence[HolderKey],
                       config: CredentialConfiguration, copies: int) -> list[HolderKey]:
        """``copies`` keys to sign proofs with: the learner's own (``keys``, as read for this
        request) of the alg the issuer prefers among those it takes, plus a fresh one per extra
        copy."""
        algs = config.proof_signing_algs or _HOLDER_ALGS
        usable = sorted((k for k in keys if k.alg in algs),
                        key=lambda k: _HOLDER_ALGS.index(k.alg) if k.alg in _HOLDER_ALGS else 9)
        alg = next((a for a in _HOLDER_ALGS if a in algs), None)
        if alg is None:
            raise UnsupportedProofAlgorithm("the issuer accepts none of the wallet's key types")
        chosen = usable[:1]
        while len(chosen) < copies or not chosen:  # a batch: one fresh key per extra copy
            key = generate_holder_key(alg, created_at=self._clock())
            await lv.holder_keys.put(key)
            chosen.append(key)
        return chosen

    async def _issue(self, learner_id: str, dek: VaultKey, offer_id: str,
                     record: OfferRecord, resolved: ResolvedOffer, token: TokenSet,
                     copies: int, languages: Sequence[str],
                     keys: Sequence[HolderKey]) -> AcceptOutcome:
        lv = self._vault.for_learner(learner_id, dek)
        client = self._client()
        issued: list[IssuedCredentials] = []
        deferred: list[Deferred] = []
        ours: set[str] = set()
        for cid in resolved.offer.credential_configuration_ids:
            config = resolved.issuer.configurations[cid]
            signers = await self._signers(lv, keys, config, copies)
            ours.update(k.kid for k in signers)
            result = await self._guard(client.obtain_credential(resolved, token, cid, signers))
            if isinstance(result, Deferred):
                deferred.append(result)
            else:
                issued.append(result)
        return await self._finish(learner_id, dek, offer_id, record, resolved, token, issued,
                                  deferred, languages, ours)

    async def _finish(self, learner_id: str, dek: VaultKey, offer_id: str,
                      record: OfferRecord, resolved: ResolvedOffer, token: TokenSet,
                      issued: list[IssuedCredentials], deferred: list[Deferred],
                      languages: Sequence[str], ours: set[str],
                      problem: SatchelError | None = None) -> AcceptOutcome:
        """Verify everything received, then store, record and update the offer at once.

        ``ours``: the kids a credential may be bound to. ``problem``: what went wrong with the
        rest of a deferred poll (reported with what arrived)."""
        lv = self._vault.for_learner(learner_id, dek)
        results = await self._admit(resolved, token, issued, languages, ours)
        stored = tuple(CredentialDetail.of(r.stored) for r in results)
        received = (*record.received, *(s.credential.id for s in stored))
        # the credentials, their ledger entry (staged in the vault's ledger outbox) and the
        # offer's new state: one vault transaction, one durable commit. A credential is never
        # stored without its entry, and a crash cannot leave the offer still acceptable.
        staged = None
        async with lv.atomic() as tx:
            if results:
                staged = await self._outbox.stage(tx, Activity(
                    kind=ActivityKind.CREDENTIAL_ACCEPTED, counterparty=resolved.credential_issuer,
                    counterparty_name=resolved.issuer.name(),
                    credential_ids=tuple(r.stored.id for r in results),
                    details={"source": "oid4vci", "count": len(results),
                             **_inbox_item(record)}))
            records = tx.records(OFFER_CATEGORY)
            if deferred:
                record = replace(record, state="deferred", token=token, received=received,
                                 deferred=tuple(deferred), authorization=None)
                await records.replace(offer_id, record.to_record())
            else:
                await records.delete(offer_id)
            for r in results:
                await tx.credentials.put(r.stored)
        if results:
            # the ledger's commit: after the answer
            self._outbox.flush_soon(learner_id, dek, staged)
            await self._notify_all(resolved, token, issued, "credential_accepted")
        reported = None if problem is None else TransactionProblem.of(problem)
        if deferred:
            return AcceptOutcome("deferred", offer_id=offer_id, credentials=stored,
                                 retry_after=self._retry_after(record), problem=reported)
        # a transaction was dropped: the learner sees why
        return AcceptOutcome("issued", credentials=stored, problem=reported)

    async def _admit(self, resolved: ResolvedOffer, token: TokenSet,
                     issued: list[IssuedCredentials], languages: Sequence[str],
                     ours: set[str]) -> list[IntakeResult]:
        """Every credential verified and bound to ``ours``, or none (``credential_failure``)."""
        results: list[IntakeResult] = []
        try:
            for batch in issued:
                for raw in batch.credentials:
                    text = raw if isinstance(raw, str) else json.dumps(raw)
                    result = await self._guard(self._intake.admit(
                        text, languages=languages, source="oid4vci"))
                    self._check(result, ours)
                    results.append(result)
        except SatchelError as exc:
            await self._notify_all(resolved, token, issued, "credential_failure")
            if isinstance(exc, IssuerFailed):
                raise IssuanceFailed("the credential could not be verified: " + exc.detail) \
                    from exc
            raise
        return results

    @staticmethod
    def _check(result: IntakeResult, ours: set[str]) -> None:
        if result.checked.signature != "valid":
            raise IssuanceFailed("the credential's signature could not be checked with a key "
                                 "of its issuer")
        if result.status in ("invalid", "suspended"):
            raise IssuanceFailed("the credential is already revoked or suspended")
        holder = result.checked.holder_jwk
        try:
            bound = holder is not None and jwk_thumbprint(holder) in ours
        except SatchelError:
            bound = False
        if not bound:
            raise HolderBindingFailed("the credential is not bound to one of your holder keys")

    async def _notify_all(self, resolved: ResolvedOffer, token: TokenSet,
                          issued: list[IssuedCredentials], event: NotificationEvent) -> None:
        client = self._client()
        for batch in issued:
            if batch.notification_id is None:
                continue
            try:
                await client.notify(resolved, token, batch.notification_id, event)
            except SatchelError as exc:  # a notification is best effort (§11)
                log.info("issuer notification failed: %s", exc.code)

    # ------------------------------------------------------------------------------ deferred
    def _retry_after(self, record: OfferRecord) -> int:
        pending = record.deferred
        if not pending:
            return 0
        return max(0, math.ceil(min(d.not_before for d in pending) - self._clock().timestamp()))

    def _waiting(self, offer_id: str, record: OfferRecord) -> AcceptOutcome:
        """An early poll: nothing is due, so the issuer is not contacted at all (the answer
        carries why the last poll backed off)."""
        return AcceptOutcome("deferred", offer_id=offer_id, retry_after=self._retry_after(record),
                             problem=record.problem)

    async def _poll(self, learner_id: str, dek: VaultKey, offer_id: str, record: OfferRecord,
                    resolved: ResolvedOffer, languages: Sequence[str],
                    ours: set[str]) -> AcceptOutcome:
        """One poll of every due transaction; never earlier than the issuer's ``interval``.

        Each due transaction is polled on its own. One that fails is backed off (its
        ``not_before`` becomes at least now + the issuer's ``interval``, or its ``Retry-After``
        after an outage) and the others are still polled, so a broken transaction never starves
        a ready one; one the issuer says it will never deliver is dropped. A failure of the
        offer's access (its token, the store) stops the poll and backs off every due transaction
        alike. The back-off is sealed into the record even when nothing arrived, so a poll before
        it runs out is answered from the record without contacting the issuer.
        """
        if record.token is None:  # OfferRecord.from_record refuses a deferred one without
            raise OfferStateConflict("this offer is not waiting for a deferred credential")
        token, pending = record.token, record.deferred
        now = self._clock().timestamp()
        if all(d.not_before > now for d in pending):
            return self._waiting(offer_id, record)
        client = self._client()
        records = self._records(learner_id, dek)

        unsaved: TokenSet | None = None

        async def keep(fresh: TokenSet) -> None:
            # sealed into the record before it is used: whatever fails after this, the next
            # poll starts from the (possibly rotated) refresh token the issuer still honours
            nonlocal record, token, unsaved
            try:
                await records.replace(offer_id, replace(record, token=fresh).to_record())
            except Unavailable as exc:  # one sealed write: the old record stays whole
                unsaved = fresh  # _finish may still seal it, with credentials already received
                raise OfferNotSaved("the issuer renewed this offer's access but it could not be "
                                    "saved; accept the offer again later") from exc
            record, token = replace(record, token=fresh), fresh

        issued: list[IssuedCredentials] = []
        still: list[Deferred] = []
        failure: tuple[SatchelError, SatchelError] | None = None  # (answer, cause): the first
        halted: int | None = None  # the wait of an offer-wide failure: nothing more is polled
        for d in pending:
            if d.not_before > now:
                still.append(d)
                continue
            if halted is not None:
                still.append(_backed_off(d, now, halted))
                continue
            try:
                result, token = await client.poll_deferred_refreshing(resolved, token, d,
                                                                      on_refreshed=keep)
            except SatchelError as exc:
                answer = self._poll_error(exc, d)
                wait = int(answer.extra.get("retry_after", d.interval))
                if isinstance(exc, _NEVER_DELIVERED):
                    answer = _dropped(answer)  # not kept: polling it again cannot succeed
                else:
                    still.append(_backed_off(d, now, wait))
                if isinstance(exc, _OFFER_WIDE):
                    halted = wait
                failure = failure or (answer, exc)
                continue
            if isinstance(result, Deferred):
                still.append(result)
            else:
                issued.append(result)
        problem = None if failure is None else failure[0]
        if unsaved is not None:  # the store was down for keep(): sealed now, with the rest
            token = unsaved
            if issued:
                problem = OfferNotSaved("the store was unavailable when the issuer renewed this "
                                        "offer's access; what was received is saved, poll again "
                                        "for the rest")
        record = replace(record, problem=None if problem is None
                         else TransactionProblem.of(problem))
        if failure is not None and not issued:
            await self._save_backoff(records, offer_id, record, token, still)
            answer, cause = failure
            if isinstance(answer, IssuerUnavailable) and still:
                # when the next poll will do something: another transaction may be due sooner
                answer.retry_after = answer.extra["retry_after"] = max(1, math.ceil(
                    min(d.not_before for d in still) - now))
            if answer is cause:
                raise answer
            raise answer from cause
        # a deferred delivery may be bound to any of the learner's keys
        return await self._finish(learner_id, dek, offer_id, record, resolved, token, issued,
                                  still, languages, ours, problem=problem)

    @staticmethod
    async def _save_backoff(records: Any, offer_id: str, record: OfferRecord,
                            token: TokenSet, still: list[Deferred]) -> None:
        """Seal a failed poll's back-off (best effort: the poll's own answer is what matters).

        An offer with nothing left to wait for (every transaction dropped) is deleted."""
        try:
            if still:
                await records.replace(offer_id, replace(record, token=token,
                                                        deferred=tuple(still)).to_record())
            else:
                await records.delete(offer_id)
        except (Unavailable, NotFound) as exc:  # the store is down, or the offer was declined
            log.info("a deferred poll's back-off was not saved: %s", exc.code)


# the issuer will never deliver this transaction (§8.3.1.2, §9.3): it is dropped, not retried
_NEVER_DELIVERED = (InvalidTransactionId, CredentialRequestDenied)
# failures of the offer's access, not of one transaction: every other poll would fail alike
_OFFER_WIDE = (OfferNotSaved, InvalidToken, ExpiredToken, InvalidGrant, FetchRefused,
               InvalidIssuerMetadata)


def _backed_off(d: Deferred, now: float, wait: int) -> Deferred:
    """``d`` polled no earlier than ``wait`` seconds from now (nor than the issuer asked)."""
    return replace(d, not_before=max(d.not_before, now + wait))


def _dropped(answer: SatchelError) -> SatchelError:
    """The answer for a dropped transaction says so (the learner sees one credential go)."""
    return type(answer)(answer.detail + "; the issuer will not deliver this credential, so it "
                        "was removed from the offer", code=answer.code)
