"""Requests with a large body are admitted before a byte of it is read.

A bundle import takes up to 51 MiB, a signed PDF or a phone photo up to 10 MiB; read, joined and
parsed, each costs several times that in memory. A replica that reads every such body it is sent
at once holds all of them: eight 46 MiB imports from one token were once all parsed at the same
time. So each kind of large body has a :class:`BodyGate`: ``slots`` of them run on a replica at
once (one more is refused at once, 503 with ``Retry-After``, its body never read), each learner
holds one of them at a time (a second while the first is read: 429 at once, its body never
read), and each learner has a budget of them (429 past it,
:meth:`~wallet.accounts.limits.RateLimiter.hit`).
The slot is taken with no ``await`` between the check and the count (one event loop: no other
request can take it meanwhile) and held until the request is answered, or until its client goes
away (reading the rest of the body then fails, and the slot is given back on the way out).
docs/operations.md, "Large bodies".
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from wallet.accounts.budgets import Scope
from wallet.accounts.limits import RateLimiter
from wallet.errors import RateLimited, Unavailable

__all__ = ["UPLOAD_BUDGET", "UPLOAD_RETRY_AFTER", "BodyGate"]

#: Uploads (a signed PDF, the web form's credential file, a photo of a QR code) one learner may
#: start per hour: a year's diplomas in one sitting, and a bound on the checking one token buys
UPLOAD_BUDGET = (120, 3600)
#: What a client refused for want of an upload slot waits (checking a 10 MiB PDF takes < 1 s)
UPLOAD_RETRY_AFTER = 2

class BodyGate:
    """One kind of large body: ``slots`` at once on this replica, one of them per learner,
    each learner's ``scope`` budget. ``busy`` makes the 503 refusal and ``in_progress`` the
    429 refusal of a learner's second, each given ``retry_after`` seconds (their codes name the
    kind: ``imports_busy``, ``uploads_busy``; ``import_in_progress``, ``upload_in_progress``).

    One slot per learner: the slots were first come, first served, and a learner's bodies are
    read at the sender's pace, so one learner (sign-up is open) trickling two uploads held both
    slots and every other learner was refused (audit F5). A learner's second body while the
    first is read is refused at once, as one beyond the slots is, but 429: it is that learner's
    own doing, and waiting for its first to end is the remedy. Per replica, as the slots are:
    behind a balancer, one learner holds at most one per replica."""

    def __init__(self, *, scope: Scope, slots: int, limiter: RateLimiter,
                 busy: Callable[[int], Unavailable], retry_after: int,
                 in_progress: Callable[[int], RateLimited],
                 budget: tuple[int, int] = (60, 3600)) -> None:
        if slots < 1:
            raise ValueError("a body gate needs at least one slot")
        self.scope = scope
        self.slots = slots
        #: slots taken now, and bodies refused for want of one so far (metrics, tests)
        self.running = 0
        self.refused = 0
        #: the learners holding a slot now
        self.holders: set[str] = set()
        self._limiter = limiter
        self._busy = busy
        self._in_progress = in_progress
        self._retry_after = retry_after
        self.budget = budget

    @asynccontextmanager
    async def admitted(self, learner_id: str, *,
                       budget: tuple[int, int] | None = None) -> AsyncIterator[None]:
        """Admit one body of ``learner_id``, before it is read: none of the learner's held now,
        else the ``in_progress`` refusal at once; a slot, else the ``busy`` refusal at once;
        then one of the learner's ``budget`` (count per seconds; by default the gate's), else
        429 (the slot given back). Held until the block is left, however it is left."""
        if learner_id in self.holders:
            raise self._in_progress(self._retry_after)
        if self.running >= self.slots:
            self.refused += 1
            raise self._busy(self._retry_after)
        # no await since the checks: the slot is this request's, and the learner's one
        self.running += 1
        self.holders.add(learner_id)
        try:
            limit, window = budget or self.budget
            await self._limiter.hit(self.scope, learner_id, limit=limit, window=window)
            yield
        finally:
            self.running -= 1
            self.holders.discard(learner_id)
