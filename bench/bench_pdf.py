"""Benchmark: Satchel's check of a signed PDF against pyHanko's own validation of the same file.

Same file, same process, alternated call by call: Satchel's whole check as intake runs it
(:func:`wallet.formats.pdf.check_pdf_off_loop`, in a worker thread: strict parse, every signature
field, the DSS, metadata and attachments, the verdict) next to the bare pyHanko calls it is built
on (read the file, validate its one signature against the same anchor, no fetching). Target:
Satchel ≤ 1.2× pyHanko.

    /work/venv/bin/python bench/bench_pdf.py [--mib 1.0] [--n 40] [--timestamp]

The file is made here: a page of text, then enough incompressible filler for ``--mib`` MiB,
signed by a test CA's signer (``--timestamp``: with a signature timestamp from an in-process TSA).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

import wallet.formats.pdf  # noqa: E402,F401 - first: it quiets pyHanko's DSA import warning


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mib", type=float, default=1.0, help="size of the signed PDF (MiB)")
    p.add_argument("--n", type=int, default=40, help="validations per side")
    p.add_argument("--timestamp", action="store_true", help="sign with a timestamp token")
    return p.parse_args()


async def paired(n: int, base: Callable[[], Awaitable[object]],
                 ours: Callable[[], Awaitable[object]]) -> tuple[list[float], list[float]]:
    """Alternate the two sides call by call (which goes first alternates too)."""
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(n):
        order = ((0, base), (1, ours)) if i % 2 else ((1, ours), (0, base))
        for side, op in order:
            t0 = time.perf_counter()
            await op()
            times[side].append(time.perf_counter() - t0)
    return times


async def main(args: argparse.Namespace) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from tests import pdf_support as ps
    from wallet.formats.pdf import check_pdf_off_loop

    pki = ps.pki()
    target = int(args.mib * 1024 * 1024)
    filler = int(target * 1.5)  # hex filler compresses to about two thirds
    data = ps.sign(ps.base_pdf(padding_bytes=filler), timestamp=args.timestamp)
    print(f"signed PDF: {len(data) / 2**20:.2f} MiB, timestamp: {args.timestamp}")

    async def pyhanko_alone() -> None:
        reader = PdfFileReader(io.BytesIO(data))
        vc = ValidationContext(trust_roots=[pki.ca.asn1_cert], allow_fetching=False,
                               revocation_mode="soft-fail")
        status = await async_validate_pdf_signature(reader.embedded_signatures[0], vc)
        assert status.bottom_line

    async def satchel() -> None:
        checked = await check_pdf_off_loop(data, anchors=[pki.ca.cert], now=datetime.now(UTC),
                                           max_bytes=len(data) + 1)
        assert checked.verdict == "valid" and checked.issuer_trusted

    for op in (pyhanko_alone, satchel):  # warm both (imports, caches)
        await op()
    base, ours = await paired(args.n, pyhanko_alone, satchel)
    mb, mo = statistics.median(base) * 1e3, statistics.median(ours) * 1e3
    print(f"pyHanko validation alone: {mb:8.1f} ms median (p90 "
          f"{statistics.quantiles(base, n=10)[-1] * 1e3:.1f})")
    print(f"Satchel check_pdf:        {mo:8.1f} ms median (p90 "
          f"{statistics.quantiles(ours, n=10)[-1] * 1e3:.1f})")
    print(f"ratio: {mo / mb:.2f}x (target <= 1.2x)")


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
