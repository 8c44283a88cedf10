"""The schema revisions of every package, run as the one Alembic chain they form."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

import consent
import sharing
from wallet.db import migrate

__all__ = ["REVISION_FOLDERS", "run_migrations"]

#: each package keeps its revisions next to its tables (wallet's are found by wallet.db itself)
REVISION_FOLDERS = (Path(consent.__file__).parent / "migrations",
                    Path(sharing.__file__).parent / "migrations")


async def run_migrations(engine: AsyncEngine) -> None:
    """Bring the whole schema to the newest revision (idempotent, safe with concurrent replicas)."""
    await migrate(engine, folders=REVISION_FOLDERS)
