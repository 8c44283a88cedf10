"""``/metrics`` rendered at most once per ``SATCHEL_METRICS_CACHE`` seconds, whoever scrapes.

Rendering the exposition walks every collector of the registry (histograms, the pools, the gates)
and formats ~36 KB of text: ~20 ms of CPU on the bench machine, against ~1 ms for a probe. The
endpoint is exempt from admission and from the connection bound (a scraper must get through an
overloaded replica), so before this an unauthenticated flood of scrapes was the one load a
replica never shed: 137 scrapes in 8 s raised other requests from ~8 to ~500 ms (audit F9). Now
any number of scrapes within the interval are served the same bytes, one render between them;
a render is synchronous on the event loop, so never more than one runs at a time. A Prometheus
scrape interval (15 s or more) is far longer than the default second, so a scraper sees every
change it would have seen.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest

from wallet.clock import Clock

__all__ = ["RenderedMetrics"]


class RenderedMetrics:
    """The registry's exposition, rendered again only once ``interval`` seconds have passed
    since the last render (by ``clock``; a clock set back renders again too)."""

    __slots__ = ("_at", "_body", "_clock", "_interval", "_registry", "_renders")

    def __init__(self, registry: CollectorRegistry, interval: float, clock: Clock) -> None:
        self._registry, self._interval, self._clock = registry, interval, clock
        self._body: bytes | None = None
        self._at = 0.0
        self._renders = Counter("satchel_metrics_renders", "Renders of /metrics (scrapes within "
                                "SATCHEL_METRICS_CACHE of a render are served its text)",
                                registry=registry)

    def text(self) -> bytes:
        now = self._clock().timestamp()
        if self._body is None or not 0 <= now - self._at < self._interval:
            self._renders.inc()  # before the render: the text counts itself
            self._body, self._at = generate_latest(self._registry), now
        return self._body
