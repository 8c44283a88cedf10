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

``--pg`` runs the ratios on PostgreSQL (127.0.0.1:5432, user postgres) as well.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
from aries_askar import Store

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

from wallet.crypto import VaultKey  # noqa: E402
from wallet.vault import StoredCredential, VaultStore, generate_store_key  # noqa: E402
from wallet.vault.askar import AskarRecordStore  # noqa: E402
from wallet.vault.learner import CredentialRepository, Tags, Write  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
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
    sample = credential(0)
    # same size as what Satchel stores: the sealed summary, then the sealed record
    payload = (VaultKey.generate().seal(sample.summary().to_bytes()) + b"\0" * 8
               + VaultKey.generate().seal(sample.to_bytes()))
    tags = {"f": "A" * 22, "i": "B" * 22, "t": ["C" * 22, "D" * 22]}  # same shape as Satchel's
    # the summary row Satchel writes beside it: the same sealed summary, no tags
    summary = VaultKey.generate().seal(sample.summary().to_bytes())

    def name(i: int) -> str:
        return f"urn:uuid:{uuid.UUID(int=i)}"

    async def raw_insert(i: int) -> None:
        async with askar.session("raw") as s:
            await s.insert("credential", name(i), payload, tags)

    async def raw_insert_pair(i: int) -> None:
        async with askar.transaction("raw-pair") as tx:
            await tx.insert("credential", name(i), payload, tags)
            await tx.insert("credential_summary", name(i), summary)
            await tx.commit()

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
    args = ap.parse_args()
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
