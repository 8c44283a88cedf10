"""Peak memory of one replica under parallel large uploads: its peak RSS, not seconds.

Starts ``satchel serve`` (SQLite, in a fresh data folder; ``--code DIR``: the Satchel checkout it
runs, so that two versions are compared with the same driver), signs one learner up per upload,
resets the replica's peak RSS (``/proc/PID/clear_refs``), sends ``--n`` signed PDFs of
``--mib`` MiB to ``POST /v1/credentials`` at once, each from its own learner on its own
connection, and reads the replica's peak RSS (``VmHWM``) once every answer is in; ``--rounds``
times. Prints the answers by status and code, the RSS before and the peak, and the load average
before and after (docs/operations.md, "Large bodies").

    python bench/upload_rss.py [--n 16] [--mib 9.9] [--rounds 3] [--code /path/to/satchel]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from list_cost import _env, _free_port, _ready  # noqa: E402

PASS = "violet harbour lantern 42"
#: fpdf writes the filler hex-encoded and deflated: about 0.657 bytes of PDF per filler byte
_PDF_PER_FILLER = 0.657


def _pdf(mib: float, cache: Path) -> bytes:
    path = cache / f"satchel-upload-{mib:g}mib.pdf"
    if not path.exists():
        from tests import pdf_support as ps

        path.write_bytes(ps.sign(ps.base_pdf(padding_bytes=int(mib * 2**20 / _PDF_PER_FILLER))))
    return path.read_bytes()


def _start(code: Path, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("a") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "holder_api.cli", "serve", "--port", str(port)],
            env={**os.environ, **env, "PYTHONPATH": str(code)}, cwd=code,
            stdout=subprocess.DEVNULL, stderr=err)


def _reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak RSS is the RSS now


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid``, in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0])
    return out


async def _learner(session: aiohttp.ClientSession, url: str) -> str:
    name = f"up{uuid.uuid4().hex[:10]}"
    body = {"username": name, "passphrase": PASS}
    async with session.post(url + "/v1/learners", json=body) as r:
        assert r.status == 201, await r.text()
    async with session.post(url + "/v1/sessions", json=body) as r:
        return str((await r.json())["access_token"])


async def _upload(url: str, token: str, pdf: bytes) -> str:
    async with aiohttp.ClientSession() as session, session.post(
            url + "/v1/credentials", data=pdf,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/pdf"}) as r:
        body = await r.json(content_type=None)
        return f"{r.status} {body.get('code', '') if r.status >= 300 else ''}".strip()


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="satchel-upload-"))
    pdf = _pdf(args.mib, Path(tempfile.gettempdir()))
    env = _env(argparse.Namespace(sqlite=True), None, str(work / "data"))
    (work / "data").mkdir()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    code = Path(args.code)  # resolved before the loop starts
    print(f"code {code}; {args.n} uploads of {len(pdf) / 2**20:.2f} MiB at once")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    proc = _start(code, port, env, work / "replica.log")
    try:
        await _ready(url)
        async with aiohttp.ClientSession() as session:
            tokens = [await _learner(session, url) for _ in range(args.n)]
        for rnd in range(args.rounds):
            _reset_peak(proc.pid)
            before = _status(proc.pid)
            answers = await asyncio.gather(*(_upload(url, t, pdf) for t in tokens))
            after = _status(proc.pid)
            counts = ", ".join(f"{n} × {a}" for a, n in sorted(collections.Counter(answers)
                                                                  .items()))
            print(f"round {rnd + 1}: {counts}; RSS before {before['VmRSS'] / 1024:.0f} MiB, "
                  f"peak {after['VmHWM'] / 1024:.0f} MiB "
                  f"(+{(after['VmHWM'] - before['VmRSS']) / 1024:.0f} MiB)")
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(60)
        proc.kill()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--n", type=int, default=16, help="uploads at once (default 16)")
    ap.add_argument("--mib", type=float, default=9.9, help="size of each PDF (default 9.9)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--code", default=str(ROOT), help="the Satchel checkout the replica runs")
    a = ap.parse_args()
    a.code = str(Path(a.code).resolve())
    asyncio.run(main(a))
