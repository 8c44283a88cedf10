"""A replica's start-up in a process of its own, many times over, for
``tests/holder_api/test_first_start.py``: it reads one environment (JSON) per line from stdin,
opens the stores with it exactly as ``satchel serve`` does at start-up
(:func:`holder_api.compose.stores.open_stores`), closes them and answers one line: ``started``,
or the failure's type and message. Everything is imported before it says ``ready``, so that the
processes of one round start their start-ups together, not their imports."""

from __future__ import annotations

import asyncio
import json
import sys

from holder_api.compose.stores import open_stores
from holder_api.settings import Settings
from wallet.clock import SYSTEM_CLOCK


async def _start(env: dict[str, str]) -> str:
    try:
        async with open_stores(Settings.from_env(env), SYSTEM_CLOCK, None):
            return "started"
    except Exception as exc:  # reported to the test, which fails on anything but "started"
        return f"{type(exc).__name__}: {exc}"


def main() -> None:
    print("ready", flush=True)
    for line in sys.stdin:
        print(asyncio.run(_start(json.loads(line))).replace("\n", " "), flush=True)


if __name__ == "__main__":
    main()
