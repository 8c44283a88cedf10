"""The composition root builds each shared piece once, hands handlers only what they call, and
runs every package's schema revisions from that package's own folder."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from holder_api.appkeys import SERVICES, WIRING, Services
from holder_api.compose.migrations import REVISION_FOLDERS
from tests.support.backends import Backend
from wallet.accounts.limits import RateLimiter
from wallet.crypto import VaultKey
from wallet.trust import TrustList

ROOT = Path(__file__).parents[2]


async def test_trust_list_and_rate_limiter_are_built_once(
        make_sqlite_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps({"issuers": [{"id": "https://issuer.example", "name": "U"}]}))
    loads: list[Path] = []
    limiters: list[RateLimiter] = []
    real_load, real_init = TrustList.load.__func__, RateLimiter.__init__  # type: ignore[attr-defined]

    def counting_load(cls: type[TrustList], path: Path) -> TrustList:
        loads.append(Path(path))
        return real_load(cls, path)  # type: ignore[no-any-return]

    def counting_init(self: RateLimiter, *args: Any, **kwargs: Any) -> None:
        limiters.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(TrustList, "load", classmethod(counting_load))
    monkeypatch.setattr(RateLimiter, "__init__", counting_init)
    client = await make_sqlite_client(SATCHEL_TRUST_LIST=str(trust))
    assert loads == [trust]
    assert len(limiters) == 1
    wiring = client.app[WIRING]
    assert wiring.stores.limiter is limiters[0]
    assert wiring.vault.intake.trust_list is wiring.stores.trust
    assert client.app[SERVICES].accounts is wiring.accounts.service


def _handler_modules() -> list[Path]:
    """The JSON routes, the web wallet's pages, and the auth helper both use."""
    api = ROOT / "holder_api"
    return [*(api / "routes").glob("*.py"), *(api / "web").glob("*.py"), api / "auth.py"]


def _used_service_fields() -> set[str]:
    """Every ``request.app[SERVICES].<name>`` the handlers read."""
    used: set[str] = set()
    for path in _handler_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Subscript)
                    and isinstance(node.value.slice, ast.Name)
                    and node.value.slice.id == "SERVICES"):
                used.add(node.attr)
    return used


def test_services_hold_only_what_handlers_use() -> None:
    assert {f.name for f in dataclasses.fields(Services)} == _used_service_fields()


def test_handlers_do_not_reach_into_the_wiring() -> None:
    for path in _handler_modules():
        assert "WIRING" not in path.read_text(encoding="utf-8"), path


def test_wallet_migrations_do_not_name_other_packages() -> None:
    source = (ROOT / "wallet" / "db.py").read_text(encoding="utf-8")
    for other in ("consent", "sharing", "holder_api"):
        assert other not in source


def test_each_package_runs_its_revisions_from_its_own_folder() -> None:
    folders = {p.resolve() for p in REVISION_FOLDERS}
    for package in ("consent", "sharing"):
        assert (ROOT / package / "migrations").resolve() in folders
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "wallet" / "migrations"))
    cfg.set_main_option("version_locations", " ".join(
        str(p) for p in (ROOT / "wallet" / "migrations" / "versions", *REVISION_FOLDERS)))
    cfg.set_main_option("path_separator", "space")
    script = ScriptDirectory.from_config(cfg)
    assert len(script.get_heads()) == 1  # one chain across the packages
    by_folder = {Path(r.path).parent.resolve() for r in script.walk_revisions()}
    assert by_folder == folders | {(ROOT / "wallet" / "migrations" / "versions").resolve()}
    # a revision lives with the package whose tables it creates
    share = script.get_revision("0004_share_links")
    assert share is not None and Path(share.path).parent.name == "migrations"
    assert Path(share.path).parent.parent.name == "sharing"


@pytest.mark.parametrize("setting", ["", "write", "read"])
async def test_the_vault_uses_the_summary_rows_setting(make_client: Any, backend: Backend,
                                                       setting: str) -> None:
    client = await make_client(SATCHEL_SUMMARY_ROWS=setting)
    vault = client.app[WIRING].stores.vault.for_learner("x", VaultKey.generate())
    default = "read" if backend.vault_uri.startswith("sqlite:") else "write"
    assert vault.credentials.summary_rows == (setting or default)
