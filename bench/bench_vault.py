"""Benchmark: the Satchel vault against the raw Askar calls it is built on (docs/architecture.md).

Same store, same run, same payload: each Satchel operation is timed next to the bare Askar
operation it wraps, and the ratio is printed (target: put/get ≤ 1.5x). A put writes two rows in
one transaction (the credential row and its summary row, docs/architecture.md): it is shown against
one raw insert (what it cost before the summary rows) and against a raw transaction writing the
same two rows. Where a put's cost goes, each against one raw insert again: the same put with one
tag row fewer and with two fewer (the store is handed the writes without the
``VerifiableCredential`` type tag, then without the issuer tag too: answers of filtered lists are
not kept, so this is for measuring only), and the put without the store (sealing, the summary,
blinding the tags, no Askar call): on PostgreSQL the put misses 1.5x one insert, and these rows
say what a tag row fewer or two would buy and how much is the vault's own work. A list of
summaries reads the summary rows: it is shown against a raw fetch of the 20 credential rows and
against a raw fetch of 20 summary rows and the marker row. Then peak RSS for many learners on
SQLite.

    /work/venv/bin/python bench/bench_vault.py [--n 2000] [--learners 1000] [--creds 20] [--pg]
    /work/venv/bin/python bench/bench_vault.py --put-cost [--rounds 40] [--block 25]

``--pg`` runs the ratios on PostgreSQL (127.0.0.1:5432, user postgres) as well.

``--put-cost`` measures only the put against one raw insert on PostgreSQL, robustly against a
loaded machine: in ``--rounds`` interleaved rounds (the order rotated each round) each side runs
``--block`` operations, and each block's wall time, this process's CPU (all threads: Python and
Askar's) and the CPU of the PostgreSQL backends serving the bench's database (their
``/proc/<pid>/schedstat``, nanoseconds; the shared checkpointer and WAL writer are not counted)
are recorded; the ratio of each round is taken, and their median and quartiles are printed, so
load that comes and goes hits every side alike. The put's own work (sealing, the summary, the
tags) is also timed inside each put, where caches are as Askar and PostgreSQL leave them; the
credentials a put stores are built before it is timed, as the raw sides' payload is. Beside
them, SQL statements and round trips per operation, counted on the wire (``tests/pg_wire.py``)
in a short run of their own, and the load average (``os.getloadavg``) before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from aries_askar import Store

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

from wallet.crypto import VaultKey  # noqa: E402
from wallet.vault import StoredCredential, VaultStore, generate_store_key  # noqa: E402
from wallet.vault.askar import AskarRecordStore  # noqa: E402
from wallet.vault.learner import CredentialRepository, Tags, Write  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
Op = Callable[[int], Awaitable[object]]
RAW_JWT = "eyJhbGciOiJFUzI1NiJ9." + "x" * 1500 + ".sig"  # a typical ~1.5 KiB JWT VC


def credential(n: int) -> StoredCredential:
    return StoredCredential(
        id=f"urn:uuid:{uuid.UUID(int=n)}", format="jwt_vc_json", raw=RAW_JWT,
        types=("VerifiableCredential", "OpenBadgeCredential"), issuer="https://uni.example",
        title=f"Badge {n}", issued_at=T0, expires_at=None, status="valid",
        added_at=T0 + timedelta(seconds=n),
        data={"claims": {"name": "Ada Lovelace", "achievement": "Python basics", "ects": 5},
              "search_text": "programming python esco"},
    )


def name(i: int) -> str:
    """The id of credential number ``i`` (:func:`credential`)."""
    return f"urn:uuid:{uuid.UUID(int=i)}"


#: tags of the same shape as Satchel's credential rows (format, issuer, two types)
RAW_TAGS: dict[str, str | list[str]] = {"f": "A" * 22, "i": "B" * 22, "t": ["C" * 22, "D" * 22]}


def raw_values() -> tuple[bytes, bytes]:
    """What the raw sides write: a credential row's value of the size Satchel's is (the sealed
    summary, then the sealed record), and the summary row Satchel writes beside it (the same
    sealed summary)."""
    sample = credential(0)
    summary = VaultKey.generate().seal(sample.summary().to_bytes())
    return summary + b"\0" * 8 + VaultKey.generate().seal(sample.to_bytes()), summary


def raw_writes(askar: Store, single: str, pair: str) -> tuple[Op, Op]:
    """One raw insert of a credential row (with :data:`RAW_TAGS`) in profile ``single``, and a
    raw transaction writing it and its summary row in profile ``pair``."""
    payload, summary = raw_values()

    async def raw_insert(i: int) -> None:
        async with askar.session(single) as s:
            await s.insert("credential", name(i), payload, RAW_TAGS)

    async def raw_pair(i: int) -> None:
        async with askar.transaction(pair) as tx:
            await tx.insert("credential", name(i), payload, RAW_TAGS)
            await tx.insert("credential_summary", name(i), summary)
            await tx.commit()

    return raw_insert, raw_pair


class FewerTags(AskarRecordStore):
    """The Askar record store, handed every write with ``drop(tags)`` instead of its tags: what a
    put costs writing fewer tag rows. Measuring only: a filtered list would miss what it wrote."""

    __slots__ = ("_drop",)

    def __init__(self, store: Store, profile: str, drop: Callable[[Tags], Tags]) -> None:
        super().__init__(store, profile)
        self._drop = drop

    async def apply(self, writes: Sequence[Write]) -> None:
        # counted in the put (~1 µs a write built directly, twice that by dataclasses.replace):
        # these rows err slightly high
        await super().apply([Write(w.op, w.category, w.name, w.value, self._drop(w.tags),
                                   w.numbered) for w in writes])


class NoStore(AskarRecordStore):
    """Writes nothing: a put through it is the vault's own work alone (no Askar call)."""

    __slots__ = ()

    async def apply(self, writes: Sequence[Write]) -> None:
        return None


def rss_mib() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def paired(n: int, raw_op: Callable[[int], Awaitable[object]],
                 sat_op: Callable[[int], Awaitable[object]]) -> tuple[float, float, float, float]:
    """Alternate raw and Satchel op by op (same conditions for both; fsync noise cancels).

    Returns (median wall µs raw, median wall µs Satchel, mean CPU µs raw, mean CPU µs Satchel);
    CPU is process time, so it includes Askar's worker threads.
    """
    wall: tuple[list[float], list[float]] = ([], [])
    cpu = [0.0, 0.0]
    for i in range(n):
        for side, op in enumerate((raw_op, sat_op) if i % 2 else (sat_op, raw_op)):
            side = side if i % 2 else 1 - side
            c0, w0 = time.process_time(), time.perf_counter()
            await op(i)
            wall[side].append(time.perf_counter() - w0)
            cpu[side] += time.process_time() - c0
    return (statistics.median(wall[0]) * 1e6, statistics.median(wall[1]) * 1e6,
            cpu[0] / n * 1e6, cpu[1] / n * 1e6)


async def ratios(uri: str, n: int) -> list[tuple[str, float, float, float, float]]:
    store = await VaultStore.open(uri, generate_store_key())
    askar = store.askar
    await store.create_profile("satchel")
    await askar.create_profile("raw")
    await askar.create_profile("raw-untagged")
    await askar.create_profile("raw-pair")
    vault = store.for_learner("satchel", VaultKey.generate())
    payload, summary = raw_values()
    tags = RAW_TAGS
    raw_insert, raw_insert_pair = raw_writes(askar, "raw", "raw-pair")

    async def raw_insert_untagged(i: int) -> None:
        async with askar.session("raw-untagged") as s:
            await s.insert("credential", name(i), payload)

    async def raw_fetch(i: int) -> None:
        async with askar.session("raw") as s:
            entry = await s.fetch("credential", name(i))
            assert entry is not None
            bytes(entry.raw_value)

    async def sat_put(i: int) -> None:
        await vault.credentials.put(credential(i))

    async def sat_get(i: int) -> None:
        await vault.credentials.get(name(i))

    rows = [("put vs raw insert, same tags", *await paired(n, raw_insert, sat_put))]
    # what put writes since the summary rows: both rows in one transaction
    await store.create_profile("satchel3")
    vault3 = store.for_learner("satchel3", VaultKey.generate())

    async def sat_put3(i: int) -> None:
        await vault3.credentials.put(credential(i))

    rows.append(("put vs raw tx of the same 2 rows", *await paired(n, raw_insert_pair, sat_put3)))
    # second Satchel profile for the untagged pairing (ids must be fresh)
    await store.create_profile("satchel2")
    vault2 = store.for_learner("satchel2", VaultKey.generate())

    async def sat_put2(i: int) -> None:
        await vault2.credentials.put(credential(i))

    rows.append(("put vs raw insert, no tags", *await paired(n, raw_insert_untagged, sat_put2)))

    # where the put's cost goes: the same put writing one tag row fewer, two fewer, and none of
    # its rows at all, each against a raw insert of its own (same tags as the first row)
    dek = VaultKey.generate()
    vc = dek.blind("type", "VerifiableCredential")

    def no_vc(tags: Tags) -> Tags:
        return {k: [x for x in ([v] if isinstance(v, str) else v) if x != vc] if k == "t" else v
                for k, v in tags.items()}

    def no_vc_no_issuer(tags: Tags) -> Tags:
        return {k: v for k, v in no_vc(tags).items() if k != "i"}

    for label, profile, drop in (("put, 1 tag fewer vs raw insert", "fewer1", no_vc),
                                 ("put, 2 tags fewer vs raw insert", "fewer2", no_vc_no_issuer),
                                 ("put, no store vs raw insert", "no-store", None)):
        await store.create_profile(profile)
        await askar.create_profile(f"raw-{profile}")
        repo = CredentialRepository(NoStore(askar, profile) if drop is None
                                    else FewerTags(askar, profile, drop), dek)

        async def raw_insert_own(i: int, raw_profile: str = f"raw-{profile}") -> None:
            async with askar.session(raw_profile) as s:
                await s.insert("credential", name(i), payload, tags)

        async def sat_put_repo(i: int, repo: CredentialRepository = repo) -> None:
            await repo.put(credential(i))

        rows.append((label, *await paired(n, raw_insert_own, sat_put_repo)))
    rows.append(("get vs raw fetch", *await paired(n, raw_fetch, sat_get)))

    # list 20 of a learner holding 20 credentials vs raw fetch_all of 20 records
    await store.create_profile("twenty")
    await askar.create_profile("raw20")
    twenty = store.for_learner("twenty", VaultKey.generate())
    for i in range(20):
        await twenty.credentials.put(credential(i))
    async with askar.session("raw20") as s:
        for i in range(20):
            await s.insert("credential", f"c{i}", payload, tags)
            await s.insert("credential_summary", f"c{i}", summary)
        await s.insert("credential_summary", "", VaultKey.generate().seal(b"x" * 26))
    assert len((await twenty.credentials.list_summaries(limit=20)).items) == 20  # marks complete

    async def raw_list(_: int) -> None:
        async with askar.session("raw20") as s:
            for e in await s.fetch_all("credential"):
                (e.name, bytes(e.raw_value))

    async def raw_summary_rows(_: int) -> None:
        async with askar.session("raw20") as s:
            for e in await s.fetch_all("credential_summary"):
                (e.name, bytes(e.raw_value))

    async def sat_list(_: int) -> None:
        page = await twenty.credentials.list(limit=20)
        assert len(page.items) == 20

    async def sat_summaries(_: int) -> None:
        page = await twenty.credentials.list_summaries(limit=20)
        assert len(page.items) == 20

    rows.append(("list 20 vs raw fetch_all 20", *await paired(max(100, n // 4), raw_list,
                                                              sat_list)))
    rows.append(("summaries 20 vs raw fetch_all 20",
                 *await paired(max(100, n // 4), raw_list, sat_summaries)))
    # what an unfiltered list of summaries reads: the 20 summary rows and the marker row
    rows.append(("summaries 20 vs raw summary rows",
                 *await paired(max(100, n // 4), raw_summary_rows, sat_summaries)))
    await store.close()
    return rows


async def memory(folder: Path, learners: int, creds: int) -> dict[str, float]:
    before = rss_mib()
    store = await VaultStore.open(f"sqlite://{folder}/rss.db", generate_store_key())
    start = time.perf_counter()
    deks = {}
    sem = asyncio.Semaphore(8)

    async def fill(j: int) -> None:
        async with sem:
            lid = f"learner-{j}"
            await store.create_profile(lid)
            deks[lid] = VaultKey.generate()
            vault = store.for_learner(lid, deks[lid])
            for i in range(creds):
                await vault.credentials.put(credential(i))

    await asyncio.gather(*(fill(j) for j in range(learners)))
    filled = time.perf_counter() - start
    start = time.perf_counter()
    for lid, dek in deks.items():  # touch every profile once more (profile-key cache)
        page = await store.for_learner(lid, dek).credentials.list(limit=creds)
        assert len(page.items) == creds
    listed = time.perf_counter() - start
    after = rss_mib()
    await store.close()
    return {"rss_before": before, "rss_after": after, "peak": peak_rss_mib(),
            "fill_s": filled, "list_all_s": listed,
            "db_mib": (folder / "rss.db").stat().st_size / 2**20}


def backend_cpu_ns(db: str) -> dict[int, int]:
    """CPU nanoseconds so far of each PostgreSQL backend serving database ``db`` (its process
    title names the database; ``/proc/<pid>/schedstat`` counts in nanoseconds, not ticks)."""
    found: dict[int, int] = {}
    needle = f" {db} ".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                title = f.read()
            if not title.startswith(b"postgres:") or needle not in title:
                continue
            with open(f"/proc/{entry}/schedstat") as f:
                found[int(entry)] = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):  # gone meanwhile, or not readable
            continue
    return found


#: the sides :func:`put_cost` compares, the first being what the others are divided by
PUT_SIDES = ("raw insert", "put", "raw 2-row transaction", "put, no store")


def put_sides(store: VaultStore, dek: VaultKey) -> dict[str, Op]:
    """Each side of :func:`put_cost` on ``store`` (its profiles made already), taking a
    credential number: the vault's put, one raw insert (payload of the same size, tags of the
    same shape), a raw transaction writing the same two rows, and the put with no store under it
    (the vault's own work). The credentials a put stores are built before it is timed (like the
    raw sides' payload: building one is its caller's work, ~20-30 µs), by :func:`prepare`."""
    askar = store.askar
    vault = store.for_learner("satchel", dek)
    raw_insert, raw_pair = raw_writes(askar, "raw", "raw-pair")
    own_work = CredentialRepository(NoStore(askar, "no-store"), dek)

    repo, own_writes = vault.credentials, vault.credentials._writes

    def timed_writes(op: Any, c: StoredCredential) -> list[Write]:
        """The put's own work (sealing, summary, tags), timed in place: the Python thread's CPU
        between the put's Askar calls, caches as the store leaves them (two clock reads more)."""
        t0 = time.thread_time()
        try:
            return own_writes(op, c)
        finally:
            OWN_WORK[0] += time.thread_time() - t0

    repo._writes = timed_writes  # type: ignore[method-assign]

    async def put(i: int) -> None:
        await repo.put(PREPARED[i])

    async def put_no_store(i: int) -> None:
        await own_work.put(PREPARED[i])

    return dict(zip(PUT_SIDES, (raw_insert, put, raw_pair, put_no_store), strict=True))


#: the Python thread's CPU seconds spent building the put side's writes (``timed_writes``)
OWN_WORK = [0.0]
#: credentials built ahead of the puts that store them (:func:`prepare`)
PREPARED: dict[int, StoredCredential] = {}


def prepare(numbers: Sequence[int]) -> None:
    PREPARED.clear()
    PREPARED.update((i, credential(i)) for i in numbers)


def quartiles(xs: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) > 1 else [xs[0]] * 3
    return q[0], q[1], q[2]


async def put_cost(rounds: int, block: int, counted: int) -> None:
    """``--put-cost``: the put against one raw insert on PostgreSQL (see the module's doc)."""
    db = f"satchel_bench_{uuid.uuid4().hex[:8]}"
    direct = f"postgres://postgres@127.0.0.1:5432/{db}"
    key, dek = generate_store_key(), VaultKey.generate()
    load_before = os.getloadavg()
    store = await VaultStore.open(direct, key)
    try:
        for profile in ("satchel", "raw", "raw-pair", "no-store"):
            await store.create_profile(profile)
        sides = put_sides(store, dek)
        ids = iter(range(10**9))
        for op in sides.values():  # warm-up: pool filled, statements prepared
            first = [next(ids) for _ in range(block)]
            prepare(first)
            for i in first:
                await op(i)
        # per side, per round, for `block` operations: (wall s, client CPU s, backend CPU s,
        # the Python thread's CPU s)
        taken: dict[str, list[tuple[float, float, float, float]]] = {k: [] for k in sides}
        in_place: list[float] = []  # the put's own work in place, per round
        order = list(sides)
        for r in range(rounds):
            for label in order[r % len(order):] + order[:r % len(order)]:
                op = sides[label]
                first = [next(ids) for _ in range(block)]
                prepare(first)
                b0 = backend_cpu_ns(db)
                own0 = OWN_WORK[0]
                t0, c0, w0 = time.thread_time(), time.process_time(), time.perf_counter()
                for i in first:
                    await op(i)
                w1, c1, t1 = time.perf_counter(), time.process_time(), time.thread_time()
                await asyncio.sleep(0.002)  # the connection's release (a ping) is this side's
                b1 = backend_cpu_ns(db)
                backend = sum(ns - b0.get(pid, 0) for pid, ns in b1.items()) / 1e9
                taken[label].append((w1 - w0, c1 - c0, backend, t1 - t0))
                if label == "put":
                    in_place.append(OWN_WORK[0] - own0)
        await store.close()
        store = await VaultStore.open(direct, key)  # closed in the finally
        counts = await count_sql(db, key, dek, counted)
    finally:
        await store.close()
        await Store.remove(direct)
    load_after = os.getloadavg()
    base = taken[PUT_SIDES[0]]

    Taken = tuple[float, float, float, float]

    def per_op(xs: list[Taken], k: int) -> float:
        return statistics.median(x[k] for x in xs) / block * 1e6

    def total(x: Taken) -> float:
        return x[1] + x[2]

    print(f"\nPostgreSQL, put vs one raw insert: {rounds} rounds x {block} operations a side, "
          f"interleaved; load {'/'.join(f'{x:.2f}' for x in load_before)} before, "
          f"{'/'.join(f'{x:.2f}' for x in load_after)} after")
    print(f"{'per operation (median of rounds)':30} {'wall':>8} {'client CPU':>11} "
          f"{'(Python thread)':>16} {'backend CPU':>12} {'CPU total':>10} {'statements':>11} "
          f"{'round trips':>12}")
    for label, xs in taken.items():
        statements, trips = counts[label]
        print(f"{label:30} {per_op(xs, 0):6.0f}µs {per_op(xs, 1):9.0f}µs {per_op(xs, 3):14.0f}µs "
              f"{per_op(xs, 2):10.0f}µs "
              f"{statistics.median(total(x) for x in xs) / block * 1e6:8.0f}µs "
              f"{statements:11.2f} {trips:12.2f}")
    own = [w / b[1] for w, b in zip(in_place, base, strict=True)]
    print(f"{'of the put: its own work':30} {'':8} {statistics.median(in_place) / block * 1e6:9.0f}µs"
          f" (sealing, summary, tags, timed in place: {statistics.median(own):.2f}x one raw "
          "insert's client CPU)")
    print("\nratio to one raw insert, per round: median [quartiles]")
    print(f"{'':30} {'wall':>17} {'client CPU':>17} {'backend CPU':>17} {'CPU total':>17}")
    for label, xs in taken.items():
        if label == PUT_SIDES[0]:
            continue
        cells = []
        for ratio in ([x[0] / b[0] for x, b in zip(xs, base, strict=True)],
                      [x[1] / b[1] for x, b in zip(xs, base, strict=True)],
                      [x[2] / b[2] if b[2] else float("nan") for x, b in zip(xs, base, strict=True)],
                      [total(x) / total(b) for x, b in zip(xs, base, strict=True)]):
            lo, mid, hi = quartiles(ratio)
            cells.append(f"{mid:5.2f}x [{lo:.2f}-{hi:.2f}]")
        print(f"{label:30} " + " ".join(f"{c:>17}" for c in cells))


async def count_sql(db: str, key: str, dek: VaultKey, n: int) -> dict[str, tuple[float, float]]:
    """(statements, round trips) per operation of each side, counted on the wire through
    ``tests/pg_wire.py``'s proxy: its own run, so the proxy's work is in no timing."""
    from tests.pg_wire import counting_proxy  # the tests' module: only this mode needs it

    counts: dict[str, tuple[float, float]] = {}
    async with counting_proxy() as (port, wire):
        store = await VaultStore.open(f"postgres://postgres@127.0.0.1:{port}/{db}", key,
                                      provision=False)
        try:
            ids = iter(range(10**8, 2 * 10**8))
            for label, op in put_sides(store, dek).items():
                first, counted = [next(ids) for _ in range(3)], [next(ids) for _ in range(n)]
                prepare(first + counted)
                for i in first:  # this connection's statements prepared
                    await op(i)
                await asyncio.sleep(0.05)
                wire.clear()
                for i in counted:
                    await op(i)
                await asyncio.sleep(0.05)  # the last release's ping arrives
                counts[label] = (wire.statements[db] / n, wire.round_trips[db] / n)
        finally:
            await store.close()
    return counts


def print_table(title: str, rows: list[tuple[str, float, float, float, float]]) -> None:
    print(f"\n{title}: median wall time per op, and mean CPU time per op (all threads)")
    print(f"{'operation':32} {'satchel':>8} {'askar':>7} {'ratio':>6}   "
          f"{'cpu sat':>8} {'cpu askar':>9} {'ratio':>6}")
    for name, w_raw, w_sat, c_raw, c_sat in rows:
        print(f"{name:32} {w_sat:6.0f}µs {w_raw:5.0f}µs {w_sat / w_raw:5.2f}x   "
              f"{c_sat:6.0f}µs {c_raw:7.0f}µs {c_sat / c_raw:5.2f}x")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--learners", type=int, default=1000)
    ap.add_argument("--creds", type=int, default=20)
    ap.add_argument("--pg", action="store_true")
    ap.add_argument("--put-cost", action="store_true",
                    help="only the put against one raw insert on PostgreSQL, in CPU (this "
                         "process and the database's backends), SQL statements and round trips")
    ap.add_argument("--rounds", type=int, default=40, help="--put-cost: interleaved rounds")
    ap.add_argument("--block", type=int, default=25,
                    help="--put-cost: operations a side in each round")
    args = ap.parse_args()
    if args.put_cost:
        await put_cost(args.rounds, args.block, counted=20)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print_table("SQLite", await ratios(f"sqlite://{folder}/bench.db", args.n))
        if args.pg:
            db = f"satchel_bench_{uuid.uuid4().hex[:8]}"
            uri = f"postgres://postgres@127.0.0.1:5432/{db}"
            try:
                print_table("PostgreSQL", await ratios(uri, args.n))
            finally:
                await Store.remove(uri)
        r = await memory(folder, args.learners, args.creds)
    print(f"\nSQLite, {args.learners} learners x {args.creds} credentials")
    print(f"  fill (8 concurrent learners)   {r['fill_s']:8.1f} s")
    print(f"  list every learner once        {r['list_all_s']:8.1f} s")
    print(f"  database size                  {r['db_mib']:8.1f} MiB")
    print(f"  RSS before / after             {r['rss_before']:8.1f} / {r['rss_after']:.1f} MiB")
    print(f"  peak RSS (whole run)           {r['peak']:8.1f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
