"""Admission control: overload sheds, early and at once, instead of queueing.

A replica runs at most ``limit`` requests at a time; up to ``queue`` more wait for a slot; a
request beyond that is answered 503 ``overloaded`` with ``Retry-After`` before any work is done
for it. The bound alone is not enough: under a sustained excess the queue stays full, so every
admitted request first waits behind all of it (``queue / capacity``, ~50–100 ms here), and the
admitted requests' latency is the queue's length, not their own.

So the queue's delay is controlled, CoDel-style (Nichols & Jacobson, "Controlling Queue Delay",
ACM Queue 2012, in the variant of folly's ``Codel`` that Facebook's "Fail at Scale" describes).
Time is cut into intervals (``interval`` seconds); in each, the *head delay* is sampled whenever
a slot frees or is taken: how long the oldest request still waiting has waited, 0 when a slot
is free with nobody waiting (every request admitted at once, every slot freed into an empty
queue); a request arriving behind a head already late samples it too. A queue that empties now
and then is a burst: it is left alone. If even the smallest head delay of a whole interval is
above ``target``, the queue is *standing*: for the next interval the replica is **overloaded**, and then

* slots go to the newest waiter first (adaptive LIFO): a request that just arrived is served
  while its client still waits for it, instead of one whose client may be about to give up;
* a waiter older than twice ``target`` is shed (503 ``overloaded``, ``Retry-After``) — it
  would only be served late, and its place taken from a fresher one — unless it is the only
  one waiting (it is served next: shedding it would leave a slot idle).

While overloaded, the head delays understate the queue: shedding the waiters past 2 × ``target``
holds them under that, and now and then under ``target`` itself (the oldest left is young),
which read alone ends the overload for an interval in which the queue stands first-in first-out
and full — every other interval at twice the capacity (measured on one replica: its admitted
requests waited 16–18 ms on average for a slot, 60 % of them over 10 ms). Taking every interval
that shed a waiter for one that stood (7ca0ca1) overcorrected: under the capacity, newest-first
service leaves a burst's first request behind the later ones until it is shed, so once a pause
had overloaded the replica each interval shed one and stood again, an overload that sustained
itself (the suspect when one replica at 80 % of its capacity shed 1,306 requests against 113 for
the code before, in the same run; the tests reproduce the mechanism). So an interval that shed
stands only if the time its queue held requests says so (the *sojourn* rule): the requests that
left the queue in it, the shed ones and the served, waited more than ``target`` for each request
the interval admitted. Shedding cannot hide that time, since each request it sheds has waited
over 2 × ``target``: under a sustained excess about one is shed for each one admitted (twice the
capacity), while the leftovers of bursts under the capacity come to a few milliseconds per
request admitted (``tests/holder_api/test_admission.py`` has both; docs/performance.md,
"Admission's overload rule", the simulation's figures).
``SATCHEL_ADMISSION_RULE=head`` reads the head delays alone, as before 7ca0ca1, and
``SATCHEL_ADMISSION_RULE=shed`` takes every interval that shed for one that stood, as 7ca0ca1
did, so that one server can run any of the three rules and they be compared at the same load.

So under overload an admitted request waits at most ~2 × ``target`` for its slot, and whatever
the excess, what reaches the handlers is what the replica can serve. Stale waiters are shed when
something happens (a request arrives, a slot frees) — under overload that is all the time.

A request waiting for the Argon2id gate (:class:`wallet.accounts.limits.UnlockGate`, which bounds
its own concurrency and queue) gives its slot back meanwhile (``_Ticket.stepping_aside``):
a burst of unlocks would otherwise hold every slot while it waits for two derivation threads,
and cheap requests behind it would be shed. When its derivation is done it takes a slot back at
once, without queueing — the work paid for is not thrown away — so ``running`` may exceed
``limit`` by at most the gate's concurrency.

With ``adaptive`` (``SATCHEL_ADAPTIVE_IN_FLIGHT=1``), how many run at once adapts
(:class:`holder_api.concurrency_limit.LoopLimit`): ``limit`` is the ceiling, and the limit in
force follows how busy the event loop is — lower while it is saturated and callbacks queue in it,
higher while it has time to spare (requests waiting on the database leave it idle, so they never
narrow it). The loop-lag probe feeds it (:meth:`Admission.loop_probe`), nothing per request. A
limit that shrinks takes effect as slots free (a freed slot goes to a waiter only under the new
limit); the queue's delay control then sees the requests it keeps waiting; one that grows admits
waiters at once. The slots it takes away are added to the queue's bound (``queue + ceiling -
limit``): a request is refused at once only where the fixed limit would have refused it too.

The operator endpoints (``/healthz``, ``/readyz``, ``/metrics``) are exempt: an orchestrator must
see a busy replica as alive and a scraper must still see the shedding. Everything else, static
files of the web wallet included, is admitted like any request (they are cheap, and under
overload a page the learner cannot use anyway may as well be shed).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from multidict import CIMultiDict
from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from holder_api.concurrency_limit import LoopLimit
from holder_api.errors import Overloaded
from holder_api.problems import problem_body
from wallet.accounts.limits import STEP_ASIDE

if TYPE_CHECKING:  # holder_api.http reads the settings through appkeys, which names Admission
    from holder_api.http import EarlyBodies

__all__ = ["EXEMPT_PATHS", "OVERLOAD_RULES", "REFUSAL_BODY", "REFUSAL_HEADERS", "SHED_LOG_EVERY",
           "Admission", "OverloadRule", "admission_middleware", "refusal"]

log = logging.getLogger("satchel.admission")

#: What decides that an overloaded interval stood (``SATCHEL_ADMISSION_RULE``; the module's
#: docstring says why): ``sojourn`` — its head delays, or, in an interval that shed stale
#: waiters, the time its queue held requests; ``head`` — its head delays alone, as before
#: 7ca0ca1; ``shed`` — its head delays, or any stale waiter shed in it (7ca0ca1's rule). The two
#: older rules are kept so that one server can run any of the three, and they be compared.
OverloadRule = Literal["sojourn", "head", "shed"]
OVERLOAD_RULES: tuple[OverloadRule, ...] = ("sojourn", "head", "shed")

#: Paths that bypass admission (probes and metrics must answer under any load).
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

_RETRY_AFTER = 1  # seconds
_DETAIL = "the service is at capacity: try again shortly"

#: The answer to every refused request, built once: what the error middleware would render for
#: :class:`Overloaded` (its problem document, ``Retry-After``), with the headers every response
#: carries (:mod:`holder_api.headers`; its hook still runs, adding a secret-URL page's own).
#: The connection gate (:mod:`holder_api.connections`) sends the same.
REFUSAL_BODY = json.dumps(problem_body(Overloaded(_DETAIL, retry_after=_RETRY_AFTER))).encode()
REFUSAL_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Type", "application/problem+json; charset=utf-8"),
    ("Retry-After", str(_RETRY_AFTER)),
    ("X-Content-Type-Options", "nosniff"),
    ("Cache-Control", "no-store"))
_REFUSAL_HEADERS = CIMultiDict(REFUSAL_HEADERS)

#: Seconds between two ``requests shed`` log lines at most (each counts the sheds since the
#: one before): a line per shed would spend the CPU the admitted requests need.
SHED_LOG_EVERY = 10.0
_WAIT_BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1.0, 2.5)


@dataclass(eq=False, slots=True)
class _Waiter:
    since: float
    #: True: a slot is handed over (``running`` counts it); False: shed while waiting
    slot: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


class Admission:
    """Up to ``limit`` requests running (adaptive below it unless ``adaptive`` is false),
    ``queue`` waiting (delay-controlled), the rest refused."""

    def __init__(self, limit: int, queue: int, registry: CollectorRegistry | None = None, *,
                 target: float = 0.005, interval: float = 0.1,
                 clock: Callable[[], float] = time.monotonic, adaptive: bool = True,
                 shed_log_every: float = SHED_LOG_EVERY, rule: OverloadRule = "sojourn") -> None:
        if limit < 1 or queue < 0:
            raise ValueError("admission needs limit >= 1 and queue >= 0")
        if not 0 < target < interval:
            raise ValueError("admission needs 0 < target < interval")
        if rule not in OVERLOAD_RULES:
            raise ValueError(f"admission's rule is one of {', '.join(OVERLOAD_RULES)}")
        self.ceiling, self.queue = limit, queue
        self.loop_limit = LoopLimit(limit) if adaptive else None
        self.target, self.interval = target, interval
        self._clock = clock
        self.running = 0
        self.aside = 0  # admitted requests waiting on the Argon2id gate without a slot
        self.overloaded = False
        self._waiting: deque[_Waiter] = deque()
        self._interval_end = clock() + interval
        self._min_delay = 0.0  # smallest head delay sampled in the current interval
        self._shed_stale_in_interval = False  # a waiter shed for its age in the interval
        self.rule: OverloadRule = rule
        # the seconds waited in the queue by the requests that left it in the interval (handed a
        # slot or shed), and the slots the interval filled (at once or handed over): what the
        # sojourn rule reads when shedding kept the head young
        self._waited_in_interval = 0.0
        self._filled = 0
        # sheds not yet in a ``requests shed`` line (of them, shed after waiting); the next
        # line is due then (the first at once)
        self._unlogged = self._unlogged_waited = 0
        self._log_every, self._log_due = shed_log_every, float("-inf")
        # plain numbers on the shedding path (a prometheus Counter locks and checks each
        # increment), read at each scrape
        self.shed = self.shed_waited = 0
        if registry is not None:
            registry.register(_ShedCounts(self))
        self._wait = Histogram("satchel_admission_wait_seconds", "How long admitted requests "
                               "waited for a slot", buckets=_WAIT_BUCKETS, registry=registry)
        Gauge("satchel_requests_in_flight", "Requests admitted and running",
              registry=registry).set_function(lambda: self.running)
        Gauge("satchel_requests_queued", "Requests waiting for admission",
              registry=registry).set_function(lambda: self.waiting)
        Gauge("satchel_requests_aside", "Admitted requests waiting for an Argon2id derivation "
              "without holding a slot", registry=registry).set_function(lambda: self.aside)
        Gauge("satchel_admission_limit", "Requests the replica runs at once now "
              "(SATCHEL_MAX_IN_FLIGHT, or below it with SATCHEL_ADAPTIVE_IN_FLIGHT=1)",
              registry=registry).set_function(lambda: self.limit)
        if self.loop_limit is not None:
            Gauge("satchel_event_loop_busy", "Share of the last 0.1 s interval's time the event "
                  "loop's thread ran, of the time it did not wait for a CPU other processes "
                  "held: what the adaptive in-flight limit reads", registry=registry
                  ).set_function(lambda: 0.0 if self.loop_limit is None else self.loop_limit.busy)
            Gauge("satchel_event_loop_cpu_wait", "Share of the last 0.1 s interval the event "
                  "loop's thread was ready but waited for a CPU (the host's other processes "
                  "held it): not counted as busy, and taken out of the loop's lag",
                  registry=registry).set_function(
                      lambda: 0.0 if self.loop_limit is None else self.loop_limit.cpu_wait)
        Gauge("satchel_admission_overloaded", "1 while the admission queue stands (delay above "
              "the target for an interval): newest first, stale waiters shed",
              registry=registry).set_function(lambda: float(self.overloaded))

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def limit(self) -> int:
        return self.ceiling if self.loop_limit is None else self.loop_limit.limit

    def loop_probe(self, now: float, lag: float) -> None:
        """One reading of the event loop's lag (:class:`holder_api.pauses.LoopLag`, on the
        loop's thread, every 25 ms): the adaptive limit moves; waiters take the slots a grown
        one adds; sheds an earlier line left out are logged once that line's interval is over."""
        if self._unlogged and (at := self._clock()) >= self._log_due:
            self._log_sheds(at)
        if self.loop_limit is not None and self.loop_limit.probe(now, lag):
            now = self._clock()
            while self.running < self.limit and self._hand_over(now):
                self.running += 1

    # -- the delay controller -------------------------------------------------------------

    def _sample(self, now: float, head_delay: float) -> None:
        """One head-delay sample; at an interval's end, decide whether the queue stands."""
        if now < self._interval_end:
            self._min_delay = min(self._min_delay, head_delay)
            return
        # an interval (or more, when nothing was admitted for a while) has ended
        stood = (self._min_delay > self.target or self._still_standing()) \
            and now < self._interval_end + self.interval
        self.overloaded = stood
        self._interval_end = now + self.interval
        self._min_delay = head_delay
        self._shed_stale_in_interval = False
        self._waited_in_interval, self._filled = 0.0, 0

    def _still_standing(self) -> bool:
        """Whether an overloaded interval whose head delays fell under the target stood all the
        same (the module's docstring says why): it had to shed a waiter for its age, and, on the
        sojourn rule, the requests that left its queue, the shed ones too, waited in it more
        than ``target`` for each slot it filled (on the shed rule, shedding is enough)."""
        if not self._shed_stale_in_interval or self.rule == "head":
            return False
        return self.rule == "shed" or self._waited_in_interval > self.target * self._filled

    def _shed_waited(self, now: float) -> None:
        """While overloaded, shed the waiters older than twice the target (oldest first), all
        but the newest: it is served next, and shedding it too would leave a slot idle."""
        if not self.overloaded:
            return
        while len(self._waiting) > 1 and now - self._waiting[0].since > 2 * self.target:
            stale = self._waiting.popleft()
            stale.slot.set_result(False)
            self._waited_in_interval += now - stale.since
            self._shed_stale_in_interval = True
            self.shed_waited += 1
            self._refused(now, waited=True)

    # -- sheds: counted each, logged together ---------------------------------------------

    def _refused(self, now: float, *, waited: bool = False) -> None:
        self.shed += 1
        self._unlogged += 1
        self._unlogged_waited += waited
        if now >= self._log_due:
            self._log_sheds(now)

    def _log_sheds(self, now: float) -> None:
        """One line for the sheds since the last one (the counters have them all)."""
        log.warning("requests shed", extra={"shed": self._unlogged,
                                            "shed_waited": self._unlogged_waited})
        self._unlogged = self._unlogged_waited = 0
        self._log_due = now + self._log_every

    # -- slots ----------------------------------------------------------------------------

    def admit(self) -> bool | None:
        """Take a slot (True), refuse at once (False: the queue is full), or neither (None: the
        request is to :meth:`wait`). Synchronous, so a refusal costs no await."""
        now = self._clock()
        self._shed_waited(now)
        if self.running < self.limit and not self._waiting:
            self.running += 1
            self._filled += 1
            self._sample(now, 0.0)
            self._wait.observe(0.0)
            return True
        if len(self._waiting) >= self.queue + self.ceiling - self.limit:
            # a shrunk limit moves its slots into the queue: the replica still holds ceiling +
            # queue requests, so a burst the fixed limit takes whole is not shed while it is low
            self._refused(now)
            return False
        return None

    async def wait(self) -> bool:
        """Queue for a slot after :meth:`admit` said neither: True once one is handed over,
        False if shed meanwhile (the queue stood and this request got too old)."""
        now = self._clock()
        if self._waiting and now - self._waiting[0].since > self.target:
            # a late head on arrival counts too: behind slots that stay busy the queue stands
            # even while nothing is admitted (CoDel samples at dequeue only)
            self._sample(now, now - self._waiting[0].since)
        waiter = _Waiter(now)
        self._waiting.append(waiter)
        try:
            # release() hands its slot over (``running`` already counts us), or it is shed
            admitted = await waiter.slot
        except asyncio.CancelledError:
            if waiter.slot.done() and not waiter.slot.cancelled() and waiter.slot.result():
                self.release()  # the slot was handed over as the client went: pass it on
            elif waiter in self._waiting:
                self._waiting.remove(waiter)
            raise
        if admitted:
            self._wait.observe(max(0.0, self._clock() - waiter.since))
        return admitted

    async def acquire(self) -> None:
        """Take a slot, wait for one, or raise :class:`Overloaded` (at once or after waiting)."""
        admitted = self.admit()
        if admitted is None:
            admitted = await self.wait()
        if not admitted:
            raise Overloaded(_DETAIL, retry_after=_RETRY_AFTER)

    def release(self) -> None:
        """Give a slot back: to a waiter (the newest while overloaded) unless the limit has
        shrunk below what runs, else to the pool; a limit that grew admits more waiters."""
        now = self._clock()
        self._shed_waited(now)
        if self.running > self.limit and self._waiting:
            self._sample(now, now - self._waiting[0].since)  # they wait on the new limit
        elif not self._hand_over(now):
            self._sample(now, 0.0)  # a slot is free and nobody waits: the queue is empty
        else:
            while self.running < self.limit and self._hand_over(now):
                self.running += 1
            return
        self.running -= 1

    def _hand_over(self, now: float) -> bool:
        """The slot to the next live waiter, if any (``running`` still counts it)."""
        while self._waiting:
            head = self._waiting[0]
            self._sample(now, now - head.since)
            waiter = self._waiting.pop() if self.overloaded else self._waiting.popleft()
            if not waiter.slot.done():
                waiter.slot.set_result(True)
                self._waited_in_interval += now - waiter.since
                self._filled += 1
                return True
        return False

    def ticket(self) -> _Ticket:
        """What an admitted request holds: its slot, which it can step aside from."""
        return _Ticket(self)


class _ShedCounts(Collector):
    """``satchel_requests_shed_total`` and ``satchel_requests_shed_waited_total``."""

    def __init__(self, admission: Admission) -> None:
        self._admission = admission

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            "satchel_requests_shed", "Requests answered 503 overloaded: the admission queue was "
            "full, or they waited past twice the target delay while the replica was overloaded",
            value=self._admission.shed)
        yield CounterMetricFamily(
            "satchel_requests_shed_waited", "Of those, requests shed after waiting in the queue "
            "(the replica overloaded)", value=self._admission.shed_waited)


class _Ticket:
    """One admitted request's slot. Tasks the request started inherit its context, so the slot
    is given back only once at a time, and never after the request has ended."""

    __slots__ = ("_admission", "aside", "held")

    def __init__(self, admission: Admission) -> None:
        self._admission = admission
        self.held, self.aside = True, False

    @asynccontextmanager
    async def stepping_aside(self) -> AsyncIterator[None]:
        """Give the slot back while the request waits on something bounded of its own (the
        Argon2id gate); take one back at once, past ``limit`` if need be, when it is done."""
        if not self.held or self.aside:
            yield
            return
        adm = self._admission
        self.aside = True
        adm.release()
        adm.aside += 1
        try:
            yield
        finally:
            adm.aside -= 1
            self.aside = False
            if self.held:
                adm.running += 1

    def end(self) -> None:
        """The request is answered: its slot goes back (unless it is aside: given back already)."""
        self.held = False
        if not self.aside:
            self._admission.release()


def refusal() -> web.Response:
    """503 ``overloaded``: a new response (aiohttp sends each once) of the prebuilt parts."""
    return web.Response(body=REFUSAL_BODY, status=503, headers=_REFUSAL_HEADERS)


def admission_middleware(admission: Admission, bodies: EarlyBodies | None = None) -> Middleware:
    """Admission, outside the request metrics and the error middleware: a refused request
    costs neither (it is counted in ``satchel_requests_shed_total`` and logged in
    ``requests shed`` lines) and raises nothing; its answer is :func:`refusal`.

    With ``bodies``, a small request body is read before a slot is taken, so a slot is held
    while the request is worked on, not while its client sends (:class:`EarlyBodies`)."""
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in EXEMPT_PATHS:
            return await handler(request)
        if bodies is None or not (reserved := bodies.reserve(request)):
            return await admitted(request, handler)
        try:
            await bodies.read(request)
            return await admitted(request, handler)
        finally:
            bodies.release(reserved)

    async def admitted(request: web.Request, handler: Handler) -> web.StreamResponse:
        admitted = admission.admit()
        if admitted is None:
            admitted = await admission.wait()
        if not admitted:
            return refusal()
        ticket = admission.ticket()
        aside = STEP_ASIDE.set(ticket.stepping_aside)
        try:
            return await handler(request)
        finally:
            STEP_ASIDE.reset(aside)
            ticket.end()

    return middleware
