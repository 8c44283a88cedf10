"""The ``satchel`` command and its start-up, run in the test's own process."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from holder_api.settings import Settings


def run_satchel(args: list[str], env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> int:
    """The ``satchel`` command with ``args``, in this process, with ``env`` added to the
    environment (``monkeypatch`` takes it back): its exit status (its output: ``capsys``)."""
    from holder_api.cli import main

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return main(args)


async def start(settings: Settings) -> str:
    """Open the stores as `satchel serve` does at start-up: ``started``, or why it refused (the
    :class:`~holder_api.settings.SettingsError`'s line)."""
    from holder_api.compose.stores import open_stores
    from holder_api.settings import SettingsError
    from wallet.clock import SYSTEM_CLOCK

    try:
        async with open_stores(settings, SYSTEM_CLOCK, None):
            return "started"
    except SettingsError as exc:
        return exc.detail
