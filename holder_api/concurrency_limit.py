"""How many requests a replica runs at once: a limit that follows how busy its event loop is.

One replica is one event loop: requests in flight share its CPU, so once the loop is busy all the
time, each request more in flight adds nothing to the throughput and its CPU time to everybody's
latency (at 200 % load: 16 in flight, admitted p50 ~75 ms; 4 in flight, ~25 ms). Below that
point more in flight is what keeps the loop busy while other requests wait on PostgreSQL. A fixed
``SATCHEL_MAX_IN_FLIGHT`` cannot know where the point lies; this limit looks for it between a
floor and ``SATCHEL_MAX_IN_FLIGHT`` (the ceiling), from two readings of the loop itself:

- **busy**: the share of the last interval the loop's thread *ran*, of the time it could run:
  its own time on a CPU over the interval less the time it waited in the kernel's run queue for
  a CPU other processes held (``/proc/thread-self/schedstat`` gives the two apart; where the
  kernel has no such file, its CPU time alone over the interval, ``time.thread_time``). While
  the loop waits for the database, an upload or an outbound fetch it sleeps in its selector:
  that time is *not* busy, however long a request takes. This is why the limit reads the loop
  and not requests' wall time: a slow database makes requests slower but leaves the loop idle,
  and must not narrow the limit (a limit from requests' wall time did, and shed bursts the
  fixed limit served).
- **lag**: how late the loop ran a callback that was due (the mean of the loop-lag probe's
  readings in the interval, :class:`holder_api.pauses.LoopLag`): the queueing inside the loop
  that every request in flight pays at each of its awaits; it grows with the number of
  callbacks ready to run at once, so with the requests in flight. Each reading is counted in the
  loop's own run time: × run / (run + run-queue wait) of the thread since the reading before.
  On a host whose cores other processes share, a loop that is ready waits for a CPU now and
  then, and a probe due meanwhile is late by a slice of someone else's time; that is no
  queueing a narrower limit can cure (an earlier version that read the whole lag narrowed to
  its floor under host load and served 19-35 % fewer requests). It is also smoothed across
  intervals (exponentially, ``smoothing`` the new interval's weight).

At each interval's end:

- the loop is **not saturated** (busy < ``busy_target``): it has time to spare, and more in
  flight can use it: the limit grows by ``max(1, limit × (busy_target − busy))`` — one near
  saturation, faster on an idle loop — up to the ceiling. A quiet replica thus returns to
  ``SATCHEL_MAX_IN_FLIGHT`` and meets its next burst as the fixed limit would;
- saturated, and the lag above ``lag_target`` (the smoothed lag, so one late interval after calm
  ones does not cut, and the interval's own, so a cut that already worked is not cut again):
  more in flight only queues inside the loop, so the limit shrinks toward where the lag would be
  on target (× ``lag_target / lag``), by at most ``shrink`` (a quarter) per interval, down to the
  floor;
- saturated, and the smoothed lag under half the target: callbacks hardly wait, one more;
- saturated, the lag between: the limit holds (the band that keeps it from swinging).

Nothing is read per request: the readings come from the probe that wakes every 25 ms anyway (one
read of a small /proc file per reading, or one clock call). The caller supplies the time
(``now``) and the scheduler clock is injected, so tests drive the limit without a clock or a
kernel.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

__all__ = ["LoopLimit", "thread_sched_seconds"]


#: the kernel's per-thread scheduler statistics (Linux with CONFIG_SCHED_INFO, as distributions
#: build it): time on a CPU and time waiting in the run queue, in nanoseconds
_SCHEDSTAT = "/proc/thread-self/schedstat"
_HAS_SCHEDSTAT = os.path.exists(_SCHEDSTAT)


def thread_sched_seconds() -> tuple[float, float]:
    """Seconds the calling thread has run on a CPU, and seconds it has waited in the kernel's run
    queue for one (ready, while other threads held every CPU it may use): from
    ``/proc/thread-self/schedstat``, else its CPU time and 0 (preemption then looks like idle
    time)."""
    if _HAS_SCHEDSTAT:
        fd = os.open(_SCHEDSTAT, os.O_RDONLY)
        try:
            run_ns, wait_ns = os.read(fd, 128).split()[:2]
        finally:
            os.close(fd)
        return int(run_ns) / 1e9, int(wait_ns) / 1e9
    return time.thread_time(), 0.0


class LoopLimit:
    """The in-flight limit, moved once per ``interval`` by how busy the event loop was."""

    def __init__(self, ceiling: int, *, floor: int = 2, interval: float = 0.1,
                 busy_target: float = 0.9, lag_target: float = 0.002, shrink: float = 0.25,
                 smoothing: float = 0.5,
                 sched_seconds: Callable[[], tuple[float, float]] = thread_sched_seconds,
                 ) -> None:
        if ceiling < 1 or interval <= 0 or not 0 < busy_target <= 1 or lag_target < 0 \
                or not 0 < shrink < 1 or not 0 < smoothing <= 1:
            raise ValueError("a loop limit needs ceiling >= 1, interval > 0, "
                             "0 < busy_target <= 1, lag_target >= 0, 0 < shrink < 1 and "
                             "0 < smoothing <= 1")
        self.ceiling, self.floor = ceiling, max(1, min(floor, ceiling))
        self.interval, self.busy_target, self.lag_target = interval, busy_target, lag_target
        self.shrink, self.smoothing = shrink, smoothing
        self.limit = ceiling  # the start: what the fixed limit is
        self.busy = 0.0  # the share of the last interval's available time the loop ran
        self.cpu_wait = 0.0  # the share of the last interval it waited for a CPU
        self.lag = 0.0  # smoothed mean lag in the loop's own run time, seconds
        self._sched_seconds = sched_seconds
        self._estimate = float(ceiling)
        # (time, run seconds, run-queue seconds) at the interval's start, at the last reading
        self._since: tuple[float, float, float] | None = None
        self._last = (0.0, 0.0, 0.0)
        self._lag_sum, self._lags = 0.0, 0

    def probe(self, now: float, lag: float) -> bool:
        """One reading of the loop's lag (seconds), on the loop's thread; at an interval's end the
        limit moves. True when it changed."""
        run_now, wait_now = self._sched_seconds()
        if self._since is None:  # the first reading, on the loop's thread: where busy starts
            self._since = self._last = (now, run_now, wait_now)
            return False
        # the lag in the loop's own time: less the share of the time since the last reading
        # that its thread waited for a CPU (a probe due meanwhile waited as long, on average)
        ran, waited = run_now - self._last[1], wait_now - self._last[2]
        if ran + waited > 0:
            lag *= ran / (ran + waited)
        self._lag_sum += lag
        self._lags += 1
        self._last = (now, run_now, wait_now)
        started, run_before, wait_before = self._since
        wall = now - started
        if wall < self.interval:
            return False
        ran, waited = run_now - run_before, wait_now - wait_before
        self.cpu_wait = min(1.0, waited / wall)
        # of the time it could have run (not waiting for a CPU others held), the share it ran
        busy = ran / max(wall - waited, 1e-9)
        lag = self._lag_sum / self._lags
        self._since = self._last
        self._lag_sum, self._lags = 0.0, 0
        return self.update(busy, lag)

    def update(self, busy: float, lag: float) -> bool:
        """One interval's readings: the share of the time it could run that the loop ran, its
        mean lag in its own run time (seconds). True when the limit changed."""
        self.busy = max(0.0, min(1.0, busy))
        self.lag += self.smoothing * (max(0.0, lag) - self.lag)
        if self.busy < self.busy_target:  # the loop has time to spare: more in flight can use it
            self._estimate += max(1.0, self._estimate * (self.busy_target - self.busy))
        elif lag > self.lag_target and self.lag > self.lag_target:  # callbacks queue in it
            self._estimate *= max(1.0 - self.shrink, self.lag_target / lag)
        elif self.lag < self.lag_target / 2:  # saturated, callbacks hardly wait: one more
            self._estimate += 1.0
        self._estimate = max(float(self.floor), min(float(self.ceiling), self._estimate))
        before, self.limit = self.limit, round(self._estimate)
        return self.limit != before
