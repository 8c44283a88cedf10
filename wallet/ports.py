"""The small interfaces (ports) through which pure protocol code reaches the outside world.

Pure spec modules (SD-JWT, DCQL, OID4VCI/OID4VP message handling, status lists, micro-credential
mapping) never import aiohttp, askar or sqlalchemy (docs/architecture.md). When they need the network
they take a :class:`Fetcher`; the one real implementation is the guarded fetcher in
:mod:`wallet.net`, tests may pass an in-memory one.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, Unpack

from wallet.errors import UpstreamError
from wallet.jsontext import parse_json

if TYPE_CHECKING:  # a pure module: the type only (the connection comes from the ledger)
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["Activity", "ActivityKind", "ActivityLog", "FetchOptions", "FetchResponse", "Fetcher",
           "RowActivityLog", "Sealer", "StagedActivityLog"]


@dataclass(frozen=True, slots=True)
class FetchResponse:
    """A complete, size-capped HTTP response from a remote party (untrusted content)."""

    url: str
    status: int
    content_type: str  # media type only, lower-cased, without parameters
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body as JSON; :class:`UpstreamError` when it is not."""
        return parse_json(self.body, UpstreamError("remote party answered with invalid JSON"))

    def text(self) -> str:
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UpstreamError("remote party answered with invalid UTF-8") from exc


class Sealer(Protocol):
    """Authenticated encryption under the learner's key (the unlocked ``VaultKey``)."""

    def seal(self, plaintext: bytes, aad: bytes = b"") -> bytes: ...

    def open(self, ciphertext: bytes, aad: bytes = b"") -> bytes: ...


class ActivityKind(enum.StrEnum):
    """Every kind of consent-ledger entry: what producers in ``wallet`` and ``sharing`` name in an
    :class:`Activity`, and what the ledger stores (in clear: the kind alone reveals no claim).
    ``consent.events.EventKind`` is this enum. The values are stored and hash-chained: never
    change one. A new kind: CONTRIBUTING.md, "Adding a ledger event kind"."""

    CREDENTIAL_RECEIVED = "credential_received"
    CREDENTIAL_ACCEPTED = "credential_accepted"
    CREDENTIAL_DECLINED = "credential_declined"
    CREDENTIAL_DELETED = "credential_deleted"
    PRESENTATION_SENT = "presentation_sent"
    PRESENTATION_DECLINED = "presentation_declined"
    PRESENTATION_FAILED = "presentation_failed"
    SHARE_LINK_CREATED = "share_link_created"
    SHARE_LINK_VIEWED = "share_link_viewed"
    SHARE_LINK_REVOKED = "share_link_revoked"
    INBOX_LINK_CREATED = "inbox_link_created"
    INBOX_LINK_REVOKED = "inbox_link_revoked"
    INBOX_ITEM_RECEIVED = "inbox_item_received"
    INBOX_ITEM_EXPIRED = "inbox_item_expired"
    CONSENT_GIVEN = "consent_given"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    EXPORT = "export"
    IMPORT = "import"
    ERASURE = "erasure"


@dataclass(frozen=True, slots=True)
class Activity:
    """Something that happened to the learner's data, for the consent ledger.

    ``kind`` is the ledger event kind. ``claims`` are claim *paths*, never values;
    ``data_categories`` name what was disclosed when paths cannot (``whole_credential``: a format
    that cannot disclose selectively went out whole) and feed the consent receipt.
    """

    kind: ActivityKind
    counterparty: str | None = None
    counterparty_name: str | None = None
    purpose: str | None = None
    claims: tuple[tuple[str | int | None, ...], ...] = ()
    credential_ids: tuple[str, ...] = ()
    details: Mapping[str, str | int | bool | None] = field(default_factory=dict)
    data_categories: tuple[str, ...] = ()


class ActivityLog(Protocol):
    """Where wallet and sharing code record what they did (implemented by ``consent``).

    ``before_disclosure=True`` is the fail-closed path: it raises
    :class:`wallet.errors.Unavailable` when the event cannot be written, and the caller must then
    not disclose anything.
    """

    async def record(self, learner_id: str, sealer: Sealer, activity: Activity, *,
                     before_disclosure: bool = False) -> str: ...


class RowActivityLog(ActivityLog, Protocol):
    """The ledger for a feature whose rows live in the ledger's own SQL database (share links,
    inbox links and items): :meth:`recording` appends the entry and hands over its open
    transaction, so the feature's rows written on that connection commit with the entry, or
    neither does (the block raised). One durable commit, and never the rows without the entry.
    Getting the entry written fails as :meth:`ActivityLog.record` with ``before_disclosure``."""

    def recording(self, learner_id: str, sealer: Sealer, activity: Activity
                  ) -> AbstractAsyncContextManager[AsyncConnection]: ...


class StagedActivityLog(Protocol):
    """The ledger side of the vault's ledger outbox (:mod:`wallet.ledger_outbox`): entries
    committed in the vault first, ``(entry id, time, activity)`` in order, appended with their
    own id and time, exactly once (an id already appended is skipped); how many were new, or
    ``None`` if the learner's ledger was erased (it takes no entries: discard what is staged)."""

    def check(self, activity: Activity) -> None:
        """Raise the ledger's own ``BadInput`` if it would refuse ``activity``'s entry: called
        when an entry is staged, so a write the ledger cannot name is refused before it commits."""

    async def record_staged(self, learner_id: str, sealer: Sealer,
                            staged: Sequence[tuple[str, datetime, Activity]]) -> int | None: ...

    def check_takeover(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Raise the ledger's own ``BadInput`` if it would refuse to take over this exported
        chain (a bundle's ledger, docs/consent.md): called when the takeover is staged."""

    async def record_staged_takeover(self, learner_id: str, sealer: Sealer, entry_id: str,
                                     records: Sequence[Mapping[str, Any]]) -> int | None:
        """Take over an exported chain staged in the vault (an import), its ``import`` entry
        under ``entry_id``, exactly once (0 when that id is already in the ledger); ``None``
        if the learner's ledger was erased."""


class FetchOptions(TypedDict, total=False):
    """What any fetch may add: the media types it accepts (default ``application/json``), extra
    request headers, and a body cap below the fetcher's own (``None``: the fetcher's)."""

    accept: Sequence[str]
    headers: Mapping[str, str] | None
    max_bytes: int | None


class Fetcher(Protocol):
    """The one door to the network. Every URL is attacker-chosen; implementations guard it.

    Implementations raise :class:`wallet.errors.FetchRefused` for a URL they will not contact
    (before any connection) and :class:`wallet.errors.UpstreamError` for transport failures,
    timeouts, oversize bodies or a content type outside ``accept``. Non-2xx statuses are *returned*
    (protocols need the error body), never raised.
    """

    async def get(self, url: str, **options: Unpack[FetchOptions]) -> FetchResponse: ...

    async def post_form(self, url: str, data: Mapping[str, str],
                        **options: Unpack[FetchOptions]) -> FetchResponse: ...

    async def post_json(self, url: str, body: Any,
                        **options: Unpack[FetchOptions]) -> FetchResponse: ...

    async def post_bytes(self, url: str, body: bytes, *, content_type: str,
                         **options: Unpack[FetchOptions]) -> FetchResponse: ...

    async def preflight(self, url: str) -> None:
        """Raise :class:`wallet.errors.FetchRefused` for a URL a fetch would refuse (the host
        resolved and checked), without connecting."""
