"""Admission's queue policy alone, simulated: no HTTP, no CPU cost, a clock the script moves.

What ``bench/scale.py`` measures at twice the capacity mixes the admission queue's policy (FIFO or
LIFO, which waiters are shed and when) with everything else the replica's event loop does and
the host's load. This separates the first: ``holder_api.admission.Admission`` as the app builds
it (``--limit`` slots, ``--queue`` places, ``--target`` / ``--interval``), driven on a simulated
clock by Poisson arrivals at ``--loads`` times the capacity (``limit / service``) for
``--seconds``, each admitted request holding its slot for a service time of mean ``--service``:
exponential, or log-normal (``--service-dist lognormal``, ``--sigma``: the slow query's long
tail). ``--pause-every`` adds pauses of the whole replica (a garbage collection, the host's other
processes holding its CPU): at Poisson times, each for an exponential time of mean ``--pause``,
during which no request ends and arrivals wait to be read. Each load runs once per rule of
``--rules`` (``SATCHEL_ADMISSION_RULE``: what keeps the replica overloaded), on the same arrivals
and service times. Seeded (``--seed``): the same arguments give the same figures on any machine.

For each load and rule it prints what was admitted (per second, against the capacity), what was
shed at once (queue full) and after waiting (a standing queue), the admitted requests' wait for a
slot (p50, p99, max, the share over 10 ms), and the share of the time the controller held the
replica overloaded, with how many times it switched.

    python bench/admission_sim.py [--loads 0.5,0.8,2] [--rules sojourn,head] [--limit 8]
                                  [--queue 16] [--target 0.005] [--interval 0.1]
                                  [--service 0.012] [--service-dist exp] [--sigma 1]
                                  [--pause-every 0] [--pause 0.02] [--seconds 20] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import logging
import math
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from holder_api.admission import OVERLOAD_RULES, Admission, OverloadRule  # noqa: E402


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

    def line(self, load: float, rule: str) -> str:
        waits = sorted(self.admitted)
        n = max(len(waits), 1)

        def pct(q: float) -> float:
            return waits[int(q * (len(waits) - 1))] * 1000 if waits else 0.0

        return (f"load {load:.1f}, {rule}: admitted {len(waits) / self.seconds:,.0f}/s of a "
                f"capacity of {self.capacity:,.0f}/s; shed at once {self.shed_at_once:,}, after "
                f"waiting {self.shed_waited:,}; wait for a slot: p50 {pct(0.5):.1f} ms, p99 "
                f"{pct(0.99):.1f} ms, max {(waits[-1] if waits else 0.0) * 1000:.1f} ms, over "
                f"10 ms {sum(w > 0.01 for w in waits) / n:.1%}; overloaded "
                f"{self.overloaded_share:.0%} of the time, {self.switches} switches")


def _service_times(args: argparse.Namespace, rnd: random.Random) -> Callable[[], float]:
    """Service times of mean ``--service``: exponential, or log-normal of shape ``--sigma``."""
    if args.service_dist == "exp":
        return lambda: rnd.expovariate(1 / args.service)
    mu = math.log(args.service) - args.sigma ** 2 / 2  # the mean of a log-normal is e^(mu+s²/2)
    return lambda: rnd.lognormvariate(mu, args.sigma)


async def simulate(load: float, args: argparse.Namespace, rule: OverloadRule) -> Outcome:
    rnd = random.Random(args.seed)
    clock = _Clock()
    adm = Admission(args.limit, args.queue, target=args.target, interval=args.interval,
                    clock=clock, adaptive=False, rule=rule)
    capacity = args.limit / args.service
    service = _service_times(args, rnd)
    # (when, 0 an arrival | 1 a request ending | 2 a pause of the replica)
    events: list[tuple[float, int]] = []
    for kind, rate in ((0, load * capacity), (2, 1 / args.pause_every if args.pause_every else 0)):
        t = rnd.expovariate(rate) if rate else args.seconds
        while t < args.seconds:
            events.append((t, kind))
            t += rnd.expovariate(rate)
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
        heapq.heappush(events, (clock.now + service(), 1))

    tasks = []
    over, switches, state, before = 0.0, 0, adm.overloaded, 0.0
    paused_until = 0.0
    while events:
        when, kind = heapq.heappop(events)
        if kind == 2:  # nothing runs meanwhile: the requests running end that much later
            pause = rnd.expovariate(1 / args.pause)
            paused_until = max(paused_until, when) + pause
            events = [(t + pause, k) if k == 1 else (t, k) for t, k in events]
            heapq.heapify(events)
            continue
        when = max(when, paused_until)  # what arrived meanwhile is read when the pause ends
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


def _rules(text: str) -> list[OverloadRule]:
    rules = [r for r in OVERLOAD_RULES if r in text.split(",")]
    if not rules or len(rules) != len(text.split(",")):
        raise argparse.ArgumentTypeError(f"{text!r}: comma-separated, of {','.join(OVERLOAD_RULES)}")
    return rules


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--loads", type=_loads, default=[0.5, 0.8, 0.9, 1.0, 1.5, 2.0],
                    help="offered loads, times the capacity (default 0.5,0.8,0.9,1,1.5,2)")
    ap.add_argument("--rules", type=_rules, default=list(OVERLOAD_RULES),
                    help="SATCHEL_ADMISSION_RULE values, each run on the same arrivals "
                    f"(default {','.join(OVERLOAD_RULES)})")
    ap.add_argument("--limit", type=int, default=8, help="slots (SATCHEL_MAX_IN_FLIGHT, 8)")
    ap.add_argument("--queue", type=int, default=16, help="places (SATCHEL_MAX_QUEUED, 16)")
    ap.add_argument("--target", type=float, default=0.005,
                    help="SATCHEL_QUEUE_TARGET in seconds (0.005)")
    ap.add_argument("--interval", type=float, default=0.1,
                    help="SATCHEL_QUEUE_INTERVAL in seconds (0.1)")
    ap.add_argument("--service", type=float, default=0.012, help="mean seconds a request holds "
                    "its slot (default 0.012: a list-20's ~1.5 ms of CPU, 8 interleaved)")
    ap.add_argument("--service-dist", choices=("exp", "lognormal"), default="exp",
                    help="service times: exponential, or log-normal of shape --sigma "
                    "(default exp)")
    ap.add_argument("--sigma", type=float, default=1.0,
                    help="the log-normal's shape (default 1: a p99 ~5x the mean)")
    ap.add_argument("--pause-every", type=float, default=0.0, help="mean seconds between "
                    "pauses of the replica (Poisson; default 0: none)")
    ap.add_argument("--pause", type=float, default=0.02,
                    help="mean seconds a pause lasts (exponential; default 0.02)")
    ap.add_argument("--seconds", type=float, default=20.0, help="simulated seconds per load")
    ap.add_argument("--seed", type=int, default=1)
    return ap


def main() -> None:
    args = build_parser().parse_args()
    logging.disable(logging.WARNING)  # the ``requests shed`` lines: counted here instead
    pauses = (f"; pauses of {args.pause * 1000:g} ms every {args.pause_every:g} s on average"
              if args.pause_every else "")
    shape = f" (sigma {args.sigma:g})" if args.service_dist == "lognormal" else ""
    print(f"admission: {args.limit} slots, {args.queue} places, target {args.target * 1000:g} "
          f"ms, interval {args.interval * 1000:g} ms; service {args.service_dist}{shape}, mean "
          f"{args.service * 1000:g} ms{pauses}; {args.seconds:g} s per load, seed {args.seed}")
    for load in args.loads:
        for rule in args.rules:
            print(asyncio.run(simulate(load, args, rule)).line(load, rule), flush=True)


if __name__ == "__main__":
    main()
