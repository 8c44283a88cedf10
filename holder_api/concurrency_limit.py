"""How many requests a replica runs at once: a limit that follows the latency, gradient-style.

One replica is one event loop: requests in flight share its CPU, so past the point where the
CPU is kept busy, each one more in flight adds nothing to the throughput and its service time
to everybody's latency (at 200 % load: 16 in flight, admitted p50 ~75 ms; 4 in flight, ~25 ms).
Where that point lies depends on how much of a request is waiting on PostgreSQL, which a fixed
``SATCHEL_MAX_IN_FLIGHT`` cannot know. So the limit is estimated, after the gradient limits of
Netflix's ``concurrency-limits``, between a floor and ``SATCHEL_MAX_IN_FLIGHT`` (the ceiling):

- Admitted requests' service times (slot taken to slot given back) are averaged per window
  (at least ``window`` seconds and ``min_samples`` requests): the *recent* RTT.
- The *baseline* is the smallest recent RTT since the last probe; every ``probe_every``
  windows the limit drops to the floor for one window and what requests admitted in it take
  (no queueing for the CPU) becomes the baseline: a baseline only ever lowered would drift up
  with a limit that sits high, since every window there is slow alike.
- At each window's end ``gradient = clamp(tolerance × baseline / recent, 0.5, 1)``. Below 1
  (requests queue for the CPU) the estimate moves ``smoothing`` of the way toward
  ``estimate × gradient``; at 1 it grows by one request, unless the window never used half of
  it (a quiet replica would otherwise drift to the ceiling and meet its next burst there). On a
  loop whose requests only compute it settles near ``tolerance × floor``; the more of a request
  is spent waiting on the database, the higher.

The caller supplies the time (``now``), so tests drive it on a fake clock.
"""

from __future__ import annotations

__all__ = ["GradientLimit"]


class GradientLimit:
    """The concurrency limit, updated from admitted requests' service times."""

    def __init__(self, ceiling: int, now: float, *, floor: int = 2, window: float = 0.1,
                 min_samples: int = 8, tolerance: float = 1.5, smoothing: float = 0.2,
                 probe_every: int = 30) -> None:
        if ceiling < 1 or not 0 < smoothing <= 1 or tolerance < 1:
            raise ValueError("a gradient limit needs ceiling >= 1, 0 < smoothing <= 1 and "
                             "tolerance >= 1")
        self.ceiling, self.floor = ceiling, max(1, min(floor, ceiling))
        self.window, self.min_samples = window, min_samples
        self.tolerance, self.smoothing, self.probe_every = tolerance, smoothing, probe_every
        self.limit = ceiling  # the start: what a fixed limit would be
        self.baseline: float | None = None
        self._estimate = float(ceiling)
        self._window_end = now + window
        self._total, self._samples, self._peak = 0.0, 0, 0
        self._windows = 0  # since the last probe
        self._probe_from: float | None = None  # while probing: when it began

    def sample(self, now: float, started: float, in_flight: int) -> None:
        """One admitted request is done (``started``: when it took its slot); ``in_flight``
        counts it."""
        if self._probe_from is not None and started < self._probe_from:
            return  # admitted before the probe, above the floor: not a baseline
        self._total += now - started
        self._samples += 1
        self._peak = max(self._peak, in_flight)
        if now < self._window_end or self._samples < self.min_samples:
            return
        recent = self._total / self._samples
        peak = self._peak
        self._total, self._samples, self._peak = 0.0, 0, 0
        self._window_end = now + self.window
        if recent <= 0.0:
            return  # nothing measurable (a clock too coarse for the requests)
        if self._probe_from is not None:  # the probe's window: the new baseline
            self._probe_from, self.baseline, self._windows = None, recent, 0
            self.limit = round(self._estimate)
            return
        if self.baseline is None or recent < self.baseline:
            self.baseline = recent
        gradient = max(0.5, min(1.0, self.tolerance * self.baseline / recent))
        if gradient < 1.0:  # slowed down past the tolerance: smaller, smoothed
            self._estimate -= self.smoothing * (1.0 - gradient) * self._estimate
        elif 2 * peak >= self._estimate:  # not slowed, and the window used the limit
            self._estimate += 1.0
        self._estimate = max(float(self.floor), min(float(self.ceiling), self._estimate))
        self._windows += 1
        if self._windows >= self.probe_every and self.floor < self.ceiling:
            self._probe_from, self.limit = now, self.floor
        else:
            self.limit = round(self._estimate)
