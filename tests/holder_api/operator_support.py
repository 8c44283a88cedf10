"""Helpers of test_deployment_record.py that other test modules use too (test modules share fixtures and
support modules, never each other: tests/test_architecture.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import delete

from tests.support.backends import Backend
from wallet.accounts.models import deployment_record
from wallet.db import create_engine

ROOT = Path(__file__).resolve().parents[2]


def _serve(env: dict[str, str], *command: str) -> tuple[int | None, str]:
    """Run `satchel serve` (or ``command``) as an operator would: its exit status and stderr,
    or ``None`` if it was still running (serving) after three minutes — then it is stopped. (A
    generous deadline: on a loaded machine the imports alone took a minute.)"""
    proc = subprocess.Popen(
        [sys.executable, "-m", "holder_api.cli", *(command or ("serve", "--port", "0"))],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "SATCHEL_LOG_LEVEL": "WARNING", **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        return None, err
    return proc.returncode, err


def _said(stderr: str) -> list[str]:
    """What the process said besides its first line (that it starts)."""
    return [line for line in stderr.strip().splitlines()
            if not line.startswith("satchel: starting ")]


async def forget_record(backend: Backend, *names: str) -> None:
    """Delete the deployment record's rows ``names`` (a record an earlier release, or an
    operator, left without them)."""
    engine = create_engine(backend.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(delete(deployment_record).where(
                deployment_record.c.name.in_(names)))
    finally:
        await engine.dispose()
