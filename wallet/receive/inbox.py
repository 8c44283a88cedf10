"""Inbox links: capability URLs an institution pushes offers or credentials to, sealed on arrival.

OpenID4VCI 1.0 §4 (https://openid.net/specs/openid-4-verifiable-credential-issuance-1_0.html
#section-4): an inbox URL is a per-institution credential offer endpoint that works while the
learner is offline. Why it is built like this:

- the URL carries 256 random bits; the server keeps only a keyed BLAKE2b hash of them (a database
  dump yields no working URL), mapped to the learner and link ids;
- the label (who the link is for) is sealed under the learner's vault key, in the link's row
  (:mod:`wallet.row_records`; a link created before that keeps it in the learner's vault until
  the learner's next list moves it into the row: :mod:`wallet.receive.earlier_links`);
- each push is sealed on arrival with libsodium ``crypto_box_seal`` to the learner's inbox public
  key (:func:`wallet.crypto.seal_to_inbox`): without the learner's passphrase the server cannot
  read it, yet it can accept it while the vault is locked;
- the public endpoint is rate-limited per client (shared counters in the database, checked before
  the link is even looked up) and per link (items stored through it in the window, counted in the
  insert's own transaction), size-capped, and refuses a revoked or unknown link alike
  (:class:`~wallet.receive.errors.LinkNotFound`);
- the link lookup is cached per replica for :data:`LINK_CACHE_SECONDS` (a revocation evicts it
  at once on the replica that served it), so an accepted push costs two short write transactions;
  the insert's transaction checks again that the link exists, under a per-learner lock shared with
  the erasure, so a revoked link or an erased learner stores nothing, whatever the cache says;
- creating or revoking a link and declining an item write the row (a link's with its sealed
  label) in the transaction that appends its ledger entry (:class:`wallet.ports.RowActivityLog`;
  the ledger shares the database): one durable commit, never the row without the entry;
- an item expires ``ttl`` after it arrived (``SATCHEL_INBOX_TTL``): it is no longer listed,
  accepting it raises :class:`~wallet.receive.errors.InboxItemExpired` (and deletes it), and it is
  deleted on the learner's next read or push and by :meth:`InboxService.sweep`, which the app runs
  in the background;
- a push and an expiry happen while the learner is locked, and the consent ledger seals every
  entry under the learner's vault key: so each queues its entry (``inbox_item_received``,
  ``inbox_item_expired``), sealed to the learner's inbox key, in the transaction that stores or
  deletes the item (:mod:`wallet.receive.inbox_store`), and :meth:`InboxService.drain_events`
  moves them into the ledger before anything reads it (and before an item is listed, accepted
  or declined, so its arrival comes first), each in the transaction that deletes it from the
  queue: never an item the ledger does not name, and each named once.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import nacl.hash

from wallet.accounts.budgets import Scope
from wallet.accounts.limits import RateLimiter
from wallet.clock import SYSTEM_CLOCK, Clock, iso
from wallet.crypto import InboxKeyPair, VaultKey, open_inbox, seal_to_inbox
from wallet.errors import BadInput, NotFound, SatchelError, Unavailable
from wallet.jsontext import is_utf8_text
from wallet.ports import Activity, ActivityKind, RowActivityLog
from wallet.receive.earlier_links import VAULT_COPY, move_into_rows
from wallet.receive.errors import InboxItemExpired, LinkNotFound
from wallet.receive.inbox_store import EXPIRED, RECEIVED, InboxStore, LinkRow, StoredLink
from wallet.receive.push import PushPayload, parse_push
from wallet.receive.results import InboxItem, InboxLink, NewInboxLink
from wallet.row_records import open_row_records, seal_row_record
from wallet.vault import VaultStore

__all__ = ["EXPIRED_PURPOSE", "LINK_CATEGORY", "RECEIVED_PURPOSE", "InboxService"]

log = logging.getLogger(__name__)

#: where a link's label was kept before it moved into the link's row (still read for those)
LINK_CATEGORY = "inbox-link"
_TABLE = "inbox_links"
#: How long a replica trusts its cached link lookup (revocations elsewhere take at most this).
LINK_CACHE_SECONDS = 5.0
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class _Taken(Exception):  # noqa: N818 - a queued entry another move recorded first
    pass


_MAX_ISSUER = 2048  # the ledger's bound on a detail string
#: the purpose each inbox entry records (the web history says them in the page's language)
RECEIVED_PURPOSE = "an offer or a credential pushed to the learner's inbox link"
EXPIRED_PURPOSE = "an inbox item the learner did not take up expired and was deleted"


def _activity(body: Mapping[str, Any], label: object) -> Activity:
    """The ledger entry of a queued inbox event: who pushed is the inbox link (its label, when
    it is still live); ids, times and what the push claimed about its issuer, no claim value."""
    link_id, received = str(body["link_id"]), body.get("kind") == RECEIVED
    details: dict[str, str | int | bool | None] = {
        "item_id": str(body.get("item_id")), "link_id": link_id,
        "received_at": str(body.get("received_at"))}
    if received:
        details["kind"] = str(body.get("payload"))
        issuer = body.get("issuer")
        if isinstance(issuer, str) and len(issuer) <= _MAX_ISSUER and is_utf8_text(issuer):
            details["claimed_issuer"] = issuer
        purpose = RECEIVED_PURPOSE
    else:
        details["expired_at"] = str(body.get("expired_at"))
        purpose = EXPIRED_PURPOSE
    return Activity(kind=RECEIVED if received else EXPIRED,
                    counterparty=f"inbox_link:{link_id}",
                    counterparty_name=label if isinstance(label, str) else None,
                    purpose=purpose, details=details)


class InboxService:
    def __init__(self, *, store: InboxStore, vault: VaultStore,
                 inbox_public_key: Callable[[str], Any], activity: RowActivityLog,
                 limiter: RateLimiter, link_key: bytes, public_url: str,
                 link_limit: tuple[int, int] = (60, 3600),
                 client_limit: tuple[int, int] = (120, 60),
                 ttl: timedelta = timedelta(days=30),
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.store, self._vault, self._activity = store, vault, activity
        self._inbox_public_key = inbox_public_key
        self._limiter, self._key = limiter, link_key[:64]
        self._public_url = public_url
        self.link_limit, self.client_limit = link_limit, client_limit
        self.ttl, self._clock = ttl, clock
        self._links: dict[str, tuple[LinkRow, bytes, float]] = {}

    def _fresh_since(self) -> datetime:
        """Items received before this instant have expired."""
        return self._clock() - self.ttl

    def token_hash(self, token: str) -> str:
        return nacl.hash.blake2b(token.encode("ascii"), key=self._key, person=b"satchel-inbox",
                                 digest_size=32).decode("ascii")

    # ------------------------------------------------------------------------------ links
    async def create_link(self, learner_id: str, dek: VaultKey, label: str) -> NewInboxLink:
        label = label.strip()
        if not label or len(label) > 200:
            raise BadInput("label must be 1 to 200 characters")
        if not is_utf8_text(label):
            raise BadInput("label must be Unicode text (no lone surrogates)")
        token, link_id, now = secrets.token_urlsafe(32), str(uuid.uuid4()), self._clock()
        sealed = seal_row_record(dek, _TABLE, link_id, {"label": label, "created_at": iso(now)})
        # the link row, its sealed label and its ledger entry, one transaction: a link that
        # takes pushes is never live without its entry, nor without its label
        async with self._activity.recording(learner_id, dek, Activity(
                kind=ActivityKind.INBOX_LINK_CREATED, counterparty_name=label,
                details={"link_id": link_id})) as conn:
            await self.store.add_link_in(conn, link_id, learner_id, self.token_hash(token), now,
                                         sealed)
        return NewInboxLink(link_id, f"{self._public_url}/i/{token}", label, iso(now))

    async def _records(self, learner_id: str, dek: VaultKey, links: Mapping[str, StoredLink],
                       *, move: bool = True, leftovers: Collection[str] = ()
                       ) -> dict[str, dict[str, Any]]:
        """Each link's record (label, created_at) that can be read: opened from its row, or, for
        a link created before the labels moved into the rows, from the vault (read only if there
        is one), and then, with ``move``, moved into its row, and the vault copies of revoked
        ``leftovers`` removed (:func:`move_into_rows`). A record that does not open is left out
        (logged): its link is still listed, by id, and can still be revoked."""
        labels = self._vault.for_learner(learner_id, dek).records(LINK_CATEGORY)
        records = await open_row_records(
            dek, _TABLE, {i: link.sealed_record for i, link in links.items()}, labels.list,
            "inbox link")
        missing = [i for i, link in links.items() if link.sealed_record is None and i not in records]
        if missing:
            # another request may have moved these labels into their rows between this one's
            # read of the rows and its read of the vault: read those rows again, once
            again = await self.store.links(learner_id)
            moved = {i: again[i] for i in missing if i in again and again[i].sealed_record}
            links = {**links, **moved}
            records |= await open_row_records(
                dek, _TABLE, {i: link.sealed_record for i, link in moved.items()}, labels.list,
                "inbox link")
        if move:
            await move_into_rows(self.store, labels, learner_id, dek, _TABLE, links, records,
                                 leftovers)
        return records

    async def list_links(self, learner_id: str, dek: VaultKey) -> list[InboxLink]:
        """Every live link: a link without a readable record (a schema downgrade dropped it, or
        it does not open) is listed by its id and its row's creation time, never hidden: it
        still takes pushes, so the learner must be able to see and revoke it."""
        links, leftovers = await self.store.listed_links(learner_id)
        records = await self._records(learner_id, dek, links, leftovers=leftovers)
        out = []
        for i, link in sorted(links.items()):
            label = records.get(i, {}).get("label")
            out.append(InboxLink(i, label if isinstance(label, str) else None,
                                 records.get(i, {}).get("created_at") or iso(link.created_at)))
        return out

    async def revoke_link(self, learner_id: str, dek: VaultKey, link_id: str) -> None:
        links = await self.store.links(learner_id)
        if link_id not in links:
            raise NotFound("no such inbox link")
        try:
            record: dict[str, Any] | None = (await self._records(
                learner_id, dek, {link_id: links[link_id]}, move=False)).get(link_id, {})
        except Unavailable:  # the vault (an earlier link's label): closing never waits for it
            record = None
        # its label may have a copy in the vault: a link no list has seen since revision 0006,
        # or one whose move stopped before the vault copy went (marked); unread: maybe. That
        # copy is never read again (only live rows' labels are) and goes at the next list
        # (a leftover: wallet.receive.earlier_links), not in a vault commit of its own here
        leftover = (links[link_id].sealed_record is None or record is None
                    or record.get(VAULT_COPY) is True)
        label = None if record is None else record.get("label")
        try:
            # the row's deletion (its sealed label with it, its leftover named) with its ledger
            # entry, one transaction: a revocation the ledger does not name never happens. A
            # concurrent revocation deleted the row first: NotFound, and no second entry.
            async with self._activity.recording(learner_id, dek, Activity(
                    kind=ActivityKind.INBOX_LINK_REVOKED,
                    counterparty_name=label if isinstance(label, str) else None,
                    details={"link_id": link_id})) as conn:
                if not await self.store.delete_link_in(conn, learner_id, link_id,
                                                       leftover=leftover):
                    raise NotFound("no such inbox link")
        except Unavailable:
            # closing a link is always safe, so a ledger outage does not hold it back (503
            # after it; the ledger over-records at worst, never the other way round)
            await self.store.delete_link(learner_id, link_id, leftover=leftover)
            self._forget(link_id)
            raise
        self._forget(link_id)

    def _forget(self, link_id: str) -> None:
        """Evict a revoked link from this replica's lookup cache."""
        self._links = {k: v for k, v in self._links.items() if v[0].id != link_id}

    async def decline_item(self, learner_id: str, dek: VaultKey, item_id: str,
                           activity: Activity) -> None:
        """Delete an item with its ``credential_declined`` entry, in one transaction (a second
        decline of the same item finds it gone: NotFound, and no second entry)."""
        async with self._activity.recording(learner_id, dek, activity) as conn:
            if not await self.store.delete_item_in(conn, learner_id, item_id):
                raise NotFound("no such inbox item")

    # ------------------------------------------------------------------------------ public push
    async def push(self, token: str, client: str, query: Mapping[str, Sequence[str]],
                   content_type: str, body: bytes) -> str:
        """Seal and keep one push; the id of the new inbox item."""
        count, window = self.client_limit
        await self._limiter.hit(Scope.INBOX_CLIENT, client, limit=count, window=window)
        if not 20 <= len(token) <= 128 or not set(token) <= _TOKEN_CHARS:
            raise LinkNotFound("no such inbox link")
        link, public = await self._link(token)
        payload = parse_push(query, content_type, body)
        payload["link_id"] = link.id
        sealed = seal_to_inbox(public, json.dumps(payload, separators=(",", ":")).encode())
        item_id, now = str(uuid.uuid4()), self._clock()
        issuer = payload.get("issuer")
        # its ledger entry, queued with it (the learner's key is not here to seal it under):
        # who pushed is the link (its label, sealed in its row, is added when the entry moves);
        # what the push claims about its issuer is kept as a claim, never a claim value
        event = seal_to_inbox(public, json.dumps({
            "kind": RECEIVED, "item_id": item_id, "link_id": link.id,
            "received_at": iso(now), "payload": payload["kind"],
            "issuer": issuer if isinstance(issuer, str) else None},
            separators=(",", ":")).encode())
        # the per-link limit is counted on the stored items, in the insert's own transaction,
        # which also finds out whether the (maybe cached) link is still there
        try:
            await self.store.add_item(item_id, link.learner_id, link.id, now, sealed,
                                      link_limit=self.link_limit,
                                      fresh_since=self._fresh_since(), event=event)
        except LinkNotFound:
            self._links.pop(self.token_hash(token), None)
            raise
        return item_id

    async def sweep(self) -> int:
        """Delete every learner's expired items (no key needed: rows go whole, each with its
        ``inbox_item_expired`` entry queued); how many."""
        return await self.store.delete_expired(self._fresh_since(), now=self._clock())

    # ------------------------------------------------------------------------------ ledger
    async def drain_events(self, learner_id: str, dek: VaultKey) -> int:
        """Move the inbox's queued ledger entries of this learner into the ledger, oldest first,
        each in the transaction that deletes it from the queue (a crash leaves both or neither;
        of two moves at once only one records it); how many this call recorded."""
        queued = await self.store.events(learner_id)
        if not queued:
            return 0
        pair = await self._pair(learner_id, dek)
        opened: list[tuple[str, dict[str, Any]]] = []
        for row in queued:
            try:
                body = json.loads(open_inbox(pair, row.sealed))
                if not isinstance(body, dict) or not isinstance(body.get("link_id"), str):
                    raise ValueError
            except (SatchelError, ValueError):  # never recordable: dropped, logged
                log.error("inbox: a queued ledger entry does not open; dropped")
                await self.store.drop_event(learner_id, row.id)
                continue
            opened.append((row.id, body))
        links = await self.store.links(learner_id)
        used = {i: links[i] for i in {b["link_id"] for _, b in opened} if i in links}
        records = await self._records(learner_id, dek, used, move=False) if used else {}
        recorded = 0
        for event_id, body in opened:
            label = records.get(body["link_id"], {}).get("label")
            try:
                async with self._activity.recording(
                        learner_id, dek, _activity(body, label)) as conn:
                    if not await self.store.take_event_in(conn, learner_id, event_id):
                        raise _Taken
            except _Taken:  # another move recorded it: this entry was rolled back
                continue
            recorded += 1
        return recorded

    async def waiting_events(self, learner_id: str) -> int:
        """How many of the inbox's ledger entries wait to move in (verification reports it)."""
        return await self.store.count_events(learner_id)

    async def _drain_before(self, learner_id: str, dek: VaultKey) -> None:
        """Before an item is listed, accepted or declined: its arrival enters the ledger first.
        Best effort: a ledger outage does not stop the learner reading or accepting (the
        entries wait, and move before the ledger is next read)."""
        try:
            await self.drain_events(learner_id, dek)
        except Unavailable as exc:
            log.info("inbox: queued ledger entries wait (%s)", exc.code)

    async def _link(self, token: str) -> tuple[LinkRow, bytes]:
        """The link and its learner's inbox public key, cached for :data:`LINK_CACHE_SECONDS`.

        A revocation on this replica evicts at once; another replica may keep the entry for
        the TTL, but the insert's transaction checks the link row again (it is the authority),
        so a stale entry only costs a ``LinkNotFound`` a little later."""
        key = self.token_hash(token)
        now = time.monotonic()
        hit = self._links.get(key)
        if hit is not None and hit[2] > now:
            return hit[0], hit[1]
        link = await self.store.link_by_hash(key)
        if link is None:
            self._links.pop(key, None)
            raise LinkNotFound("no such inbox link")
        public = bytes(await self._inbox_public_key(link.learner_id))
        if len(self._links) >= 4096:
            self._links.clear()
        self._links[key] = (link, public, now + LINK_CACHE_SECONDS)
        return link, public

    # ------------------------------------------------------------------------------ learner side
    async def _pair(self, learner_id: str, dek: VaultKey) -> InboxKeyPair:
        rec = await self._vault.for_learner(learner_id, dek).records("inbox-key").get("current")
        return InboxKeyPair.open_private(dek, bytes.fromhex(str(rec["sealed"])))

    async def items(self, learner_id: str, dek: VaultKey) -> list[InboxItem]:
        fresh_since = self._fresh_since()
        await self.store.delete_expired(fresh_since, learner_id, now=self._clock())
        await self._drain_before(learner_id, dek)
        rows = await self.store.items(learner_id, fresh_since=fresh_since)
        if not rows:
            return []
        pair = await self._pair(learner_id, dek)
        links, leftovers = await self.store.listed_links(learner_id)
        used = {i: links[i] for i in {row.link_id for row in rows} if i in links}
        labels = {i: r.get("label") for i, r in (await self._records(
            learner_id, dek, used, leftovers=leftovers)).items()}
        out = []
        for row in rows:
            payload = json.loads(open_inbox(pair, row.sealed))
            out.append(InboxItem(row.id, payload.get("kind"), labels.get(row.link_id),
                                 payload.get("issuer"), row.link_id, row.received_at))
        return out

    async def open_item(self, learner_id: str, dek: VaultKey,
                        item_id: str) -> tuple[PushPayload, str | None]:
        """The decrypted payload of one item and the label of the link it came through."""
        row = await self.store.item(learner_id, item_id)
        if row is None:
            raise NotFound("no such inbox item")
        if row.received_at < self._fresh_since():
            # its entry queued with the deletion (none: a concurrent read did both)
            await self.store.delete_expired_item(learner_id, item_id, self._fresh_since(),
                                                 self._clock())
            await self._drain_before(learner_id, dek)
            raise InboxItemExpired("this inbox item has expired and was deleted")
        await self._drain_before(learner_id, dek)
        payload: PushPayload = json.loads(open_inbox(await self._pair(learner_id, dek),
                                                     row.sealed))
        links = await self.store.links(learner_id)
        label = None
        if row.link_id in links:  # a revoked link's item keeps no label; only lists move one
            label = (await self._records(learner_id, dek, {row.link_id: links[row.link_id]},
                                         move=False)).get(row.link_id, {}).get("label")
        return payload, label if isinstance(label, str) else None

    async def remove(self, learner_id: str, item_id: str) -> None:
        if not await self.store.delete_item(learner_id, item_id):
            raise NotFound("no such inbox item")
