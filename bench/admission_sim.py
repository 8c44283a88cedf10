"""Admission's queue policy alone, simulated: no HTTP, no CPU cost, a clock the script moves.

What ``bench/scale.py`` measures at twice the capacity mixes the admission queue's policy (FIFO or
LIFO, which waiters are shed and when) with everything else the replica's event loop does and
the host's load. This separates the first: ``holder_api.admission.Admission`` as the app builds
it (``--limit`` slots, ``--queue`` places, ``--target`` / ``--interval``), driven on a simulated
clock by Poisson arrivals at ``--loads`` times the capacity (``limit / service``) for
``--seconds``, each admitted request holding its slot for an exponential service time of mean
``--service``. Seeded (``--seed``): the same arguments give the same figures on any machine.

For each load it prints what was admitted (per second, against the capacity), what was shed at
once (queue full) and after waiting (a standing queue), the admitted requests' wait for a slot
(mean, p99, max, the share over 10 ms), and the share of the time the controller held the
replica overloaded, with how many times it switched.

    python bench/admission_sim.py [--loads 0.8,2] [--limit 8] [--queue 16] [--target 0.005]
                                  [--interval 0.1] [--service 0.012] [--seconds 20] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import logging
import random
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from holder_api.admission import Admission  # noqa: E402


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Outcome:
    seconds: float
    capacity: float
    admitted: list[float]  # each admitted request's wait for its slot
    shed_at_once: int
    shed_waited: int
    overloaded_share: float
    switches: int

    def line(self, load: float) -> str:
        waits = sorted(self.admitted)
        n = max(len(waits), 1)
        p99 = waits[int(0.99 * (len(waits) - 1))] if waits else 0.0
        return (f"load {load:.1f}: admitted {len(waits) / self.seconds:,.0f}/s of a capacity of "
                f"{self.capacity:,.0f}/s; shed at once {self.shed_at_once:,}, after waiting "
                f"{self.shed_waited:,}; wait for a slot: mean "
                f"{statistics.fmean(waits or [0.0]) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max "
                f"{(waits[-1] if waits else 0.0) * 1000:.1f} ms, over 10 ms "
                f"{sum(w > 0.01 for w in waits) / n:.1%}; overloaded "
                f"{self.overloaded_share:.0%} of the time, {self.switches} switches")


async def simulate(load: float, args: argparse.Namespace) -> Outcome:
    rnd = random.Random(args.seed)
    clock = _Clock()
    adm = Admission(args.limit, args.queue, target=args.target, interval=args.interval,
                    clock=clock, adaptive=False)
    capacity = args.limit / args.service
    events: list[tuple[float, int]] = []  # (when, 0 an arrival | 1 a request ending)
    t = rnd.expovariate(load * capacity)
    while t < args.seconds:
        events.append((t, 0))
        t += rnd.expovariate(load * capacity)
    heapq.heapify(events)
    admitted: list[float] = []
    shed = [0, 0]

    async def request(arrived: float) -> None:
        ok = adm.admit()
        if ok is None:
            ok = await adm.wait()
            if not ok:
                shed[1] += 1
                return
        elif not ok:
            shed[0] += 1
            return
        admitted.append(clock.now - arrived)
        heapq.heappush(events, (clock.now + rnd.expovariate(1 / args.service), 1))

    tasks = []
    over, switches, state, before = 0.0, 0, adm.overloaded, 0.0
    while events:
        when, kind = heapq.heappop(events)
        if adm.overloaded:
            over += when - before
        clock.now = before = when
        if kind == 0:
            tasks.append(asyncio.ensure_future(request(when)))
        else:
            adm.release()
        for _ in range(3):  # the woken waiters and the new request run before the next event
            await asyncio.sleep(0)
        if adm.overloaded != state:
            switches, state = switches + 1, adm.overloaded
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return Outcome(args.seconds, capacity, admitted, shed[0], shed[1], over / args.seconds,
                   switches)


def _loads(text: str) -> list[float]:
    try:
        loads = [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: comma-separated numbers") from None
    if not loads or min(loads) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: each load above 0")
    return loads


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--loads", type=_loads, default=[0.8, 1.0, 1.2, 2.0, 4.0],
                    help="offered loads, times the capacity (default 0.8,1,1.2,2,4)")
    ap.add_argument("--limit", type=int, default=8, help="slots (SATCHEL_MAX_IN_FLIGHT, 8)")
    ap.add_argument("--queue", type=int, default=16, help="places (SATCHEL_MAX_QUEUED, 16)")
    ap.add_argument("--target", type=float, default=0.005,
                    help="SATCHEL_QUEUE_TARGET in seconds (0.005)")
    ap.add_argument("--interval", type=float, default=0.1,
                    help="SATCHEL_QUEUE_INTERVAL in seconds (0.1)")
    ap.add_argument("--service", type=float, default=0.012, help="mean seconds a request holds "
                    "its slot (default 0.012: a list-20's ~1.5 ms of CPU, 8 interleaved)")
    ap.add_argument("--seconds", type=float, default=20.0, help="simulated seconds per load")
    ap.add_argument("--seed", type=int, default=1)
    return ap


def main() -> None:
    args = build_parser().parse_args()
    logging.disable(logging.WARNING)  # the ``requests shed`` lines: counted here instead
    print(f"admission: {args.limit} slots, {args.queue} places, target {args.target * 1000:g} "
          f"ms, interval {args.interval * 1000:g} ms; service mean {args.service * 1000:g} ms; "
          f"{args.seconds:g} s per load, seed {args.seed}")
    for load in args.loads:
        print(asyncio.run(simulate(load, args)).line(load), flush=True)


if __name__ == "__main__":
    main()
