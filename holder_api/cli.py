"""The ``satchel`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import sys
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

from holder_api.settings import DECLARED, Settings, SettingsError

if TYPE_CHECKING:
    from wallet.vault import VaultStore

__all__ = ["main"]

log = logging.getLogger("satchel")


def _env_epilog() -> str:
    lines = ["Configuration (environment variables; NAME_FILE reads a secret from a file):", ""]
    for setting in DECLARED:
        lines.append(f"  {setting.label}")
        lines.extend(textwrap.wrap(f"{setting.help} [default: {setting.documented_default}]",
                                   width=76, break_on_hyphens=False, break_long_words=False,
                                   initial_indent="      ", subsequent_indent="      "))
    lines += ["", "Examples:",
              "  satchel serve                      # embedded: SQLite in ./satchel-data",
              "  satchel serve --host 0.0.0.0 --port 8080",
              "  satchel keygen                     # fresh keys for a multi-replica deployment",
              "  satchel migrate                    # bring the database schema up to date",
              "  satchel sweep                      # remove what crashed sign-ups left behind",
              "  satchel reset-summary-markers      # after a downgrade: rebuild summary rows",
              "  satchel record-deployment          # an upgrade whose data cannot vouch for "
              "its data key"]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="satchel",
        description=("Satchel: a learner-owned wallet backend for micro-credentials. Institutions "
                     "push credentials (OpenID4VCI), learners keep them in encrypted vaults, "
                     "employers request selective presentations (OpenID4VP), and every "
                     "disclosure is recorded in a consent ledger."),
        epilog=_env_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the HTTP service",
                           description="Run the holder API. Creates the data folder, keys and "
                           "schema on first start of the embedded default.",
                           epilog=_env_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    serve.add_argument("--data-dir", help="same as SATCHEL_DATA_DIR (default ./satchel-data)")
    mig = sub.add_parser("migrate", help="apply database migrations and exit")
    mig.add_argument("--data-dir", help="same as SATCHEL_DATA_DIR")
    sweep = sub.add_parser(
        "sweep", help="remove erasure keys and vault profiles that crashed sign-ups left behind",
        description="Remove the erasure keys and vault profiles of sign-ups that never finished "
        "(a crash between creating them and the account row). Only sign-ups older than "
        "SATCHEL_SIGNUP_SWEEP_GRACE seconds are touched, so it is safe while replicas serve. "
        "`satchel serve` also sweeps at start-up and once per grace period.")
    sweep.add_argument("--data-dir", help="same as SATCHEL_DATA_DIR")
    sweep.add_argument(
        "--adopt-strays", action="store_true",
        help="also take in erasure keys and vault profiles that no account and no sign-up record "
        "name (crashes of versions before sign-up records); they are removed by a sweep one grace "
        "period later. Check SATCHEL_DATABASE_URL first: against the wrong accounts database every "
        "learner looks like a stray (an empty one is refused)")
    markers = sub.add_parser(
        "reset-summary-markers",
        help="after running a version without summary rows: make every vault rebuild its "
        "credential summary rows at its next list with SATCHEL_SUMMARY_ROWS=read",
        description="Remove every learner's marker saying that their credential summary rows "
        "are complete. A vault without the marker (removed here, or never written) rebuilds its "
        "summary rows at its learner's next credential list with SATCHEL_SUMMARY_ROWS=read: "
        "that list reads the credential rows and completes the summary rows (one guarded "
        "transaction, as after the first upgrade); with `write`, lists read the credential rows "
        "and nothing is rebuilt until `read`. Run it after an earlier version that does not "
        "write summary rows has run against this vault (a downgrade), once no replica of that "
        "version runs any more: until then, lists would miss the credentials it stored "
        "(docs/operations.md). It changes only the markers, creates nothing (no key, no store: "
        "pointed at a folder or URI without a vault it stops with an error), needs no "
        "learner's key, is idempotent, and is safe while replicas of this version serve "
        "(a vault erased meanwhile is skipped).")
    markers.add_argument("--data-dir", help="same as SATCHEL_DATA_DIR")
    record = sub.add_parser(
        "record-deployment",
        help="record SATCHEL_DATA_KEY in an upgraded deployment whose data cannot vouch for it",
        description="Record this deployment's settings in its database when `satchel serve` "
        "refuses to because nothing in the data can vouch for the data key (a deployment "
        "upgraded from a version without the record, whose learners have no consent-ledger "
        "entry yet). Run it once, with the environment of `satchel serve` and the data key the "
        "accounts were made with: a wrong one makes every account unreachable and lets its "
        "username be signed up again. Everything else is checked as `satchel serve` checks "
        "it; it creates no store, and a deployment already recorded is only compared "
        "(docs/operations.md).")
    record.add_argument("--data-dir", help="same as SATCHEL_DATA_DIR")
    sub.add_parser("keygen", help="print fresh secrets for a deployment (session, store, data and "
                   "keyring keys)")
    return p


#: the commands that only work on what `satchel serve` created: they create nothing
_OPERATOR_COMMANDS = frozenset({"sweep", "reset-summary-markers", "record-deployment"})


def _settings(args: argparse.Namespace) -> Settings:
    import os

    env = dict(os.environ)
    if getattr(args, "data_dir", None):
        env["SATCHEL_DATA_DIR"] = args.data_dir
    return Settings.from_env(env, host=getattr(args, "host", "127.0.0.1"),
                             port=getattr(args, "port", 8080),
                             provision=args.command not in _OPERATOR_COMMANDS)


def _session_key_kept(settings: Settings) -> bool:
    """Whether the session key is the deployment's own, not one made up for this command (an
    operator command creates no ``session.key``)."""
    import os

    return bool(os.environ.get("SATCHEL_SESSION_KEY") or os.environ.get("SATCHEL_SESSION_KEY_FILE")
                or (settings.data_dir / "session.key").exists())


def _say(message: str) -> None:
    print(f"satchel: {message}", file=sys.stderr, flush=True)


async def _existing_vault(settings: Settings) -> VaultStore | None:
    """The vault `satchel serve` with these settings uses, opened without creating anything
    (no store key, no store): ``None``, after saying why, when there is none there. The message
    names the data folder, never a URI (it may carry a password)."""
    from wallet.errors import NotFound, SatchelError
    from wallet.vault import VaultStore, load_store_key

    folder = f"the data folder {settings.data_dir}"
    check = ("check --data-dir / SATCHEL_DATA_DIR" if settings.embedded_vault
             else "check SATCHEL_VAULT_URI and SATCHEL_STORE_KEY")
    try:
        store_key = settings.store_key or load_store_key(settings.data_dir)
        if store_key is None:
            _say(f"no vault store key (store.key) in {folder}, and no SATCHEL_STORE_KEY: is it "
                 "the folder `satchel serve` uses? Nothing was changed")
            return None
        return await VaultStore.open(settings.vault_uri, store_key, provision=False,
                                     summary_rows=settings.summary_rows)
    except NotFound:
        where = folder if settings.embedded_vault else "SATCHEL_VAULT_URI"
        _say(f"no vault store at {where} ({check}). Nothing was changed")
    except SatchelError as exc:
        _say(f"the vault could not be opened: {exc.detail} ({check})")
    return None


def _serve(settings: Settings) -> int:
    from holder_api.app import create_app
    from holder_api.lifecycle import serve
    from holder_api.logs import configure_logging

    configure_logging(settings.log_level)
    store = "embedded SQLite" if settings.embedded_vault else "external vault"
    print(f"satchel: serving on http://{settings.host}:{settings.port} ({store}, data in "
          f"{settings.data_dir})", file=sys.stderr, flush=True)
    return serve(create_app(settings), settings)


def _migrate(settings: Settings) -> None:
    from holder_api.compose.migrations import run_migrations
    from wallet.db import create_engine

    async def run() -> None:
        engine = create_engine(settings.database_url)
        try:
            print("satchel: migrating the database schema ...", file=sys.stderr, flush=True)
            await run_migrations(engine)
            print("satchel: schema is up to date", file=sys.stderr)
        finally:
            await engine.dispose()

    asyncio.run(run())


def _sweep(settings: Settings, *, adopt_strays: bool = False) -> int:
    from holder_api.compose.migrations import run_migrations
    from holder_api.compose.stores import open_keyring
    from wallet.accounts.sweep import OrphanSweep
    from wallet.db import create_engine
    from wallet.errors import SatchelError

    async def run() -> int:
        vault = await _existing_vault(settings)  # first: a wrong folder gets no database either
        if vault is None:
            return 1
        engine = create_engine(settings.database_url)
        try:
            await run_migrations(engine)
            keyring = await open_keyring(settings)
            try:
                _say(f"sweeping sign-ups that did not finish within "
                     f"{settings.signup_sweep_grace} s ...")
                report = await OrphanSweep(
                    engine=engine, vault=vault, keyring=keyring,
                    grace_seconds=settings.signup_sweep_grace,
                    adopt_strays=adopt_strays).run(progress=_say)
            finally:
                await keyring.close()
        except SatchelError as exc:
            _say(f"sweep failed: {exc.detail}")
            return 1
        finally:
            await vault.close()
            await engine.dispose()
        _say(f"removed {report.removed} orphaned erasure key(s) and vault profile(s)")
        if report.adopted:
            _say(f"{report.adopted} left by older versions found; they are removed by a sweep "
                 f"after {settings.signup_sweep_grace} s")
        _say(f"{report.waiting} sign-up(s) younger than the grace period kept")
        return 0

    return asyncio.run(run())


def _reset_summary_markers(settings: Settings) -> int:
    from wallet.errors import SatchelError

    def progress(done: int, total: int, removed: int) -> None:
        _say(f"{done}/{total} vaults checked, {removed} marker(s) removed")

    async def run() -> int:
        vault = await _existing_vault(settings)
        if vault is None:
            return 1
        try:
            _say("removing the credential summary markers ...")
            total, removed = await vault.forget_summary_markers(progress)
        except SatchelError as exc:
            _say(f"stopped: {exc.detail} (run it again: it is idempotent)")
            return 1
        finally:
            await vault.close()
        _say(f"done: {removed} marker(s) removed of {total} vault(s); each rebuilds its summary "
             "rows at its first list with SATCHEL_SUMMARY_ROWS=read")
        return 0

    return asyncio.run(run())


def _record_deployment(settings: Settings) -> int:
    from holder_api.compose.stores import open_stores
    from wallet.clock import SYSTEM_CLOCK
    from wallet.errors import SatchelError

    async def run() -> int:
        vault = await _existing_vault(settings)  # first: a wrong folder gets nothing recorded
        if vault is None:
            return 1
        await vault.close()
        try:
            async with open_stores(settings, SYSTEM_CLOCK, None, data_key_vouched=True):
                pass
        except SettingsError as exc:
            print(f"satchel: configuration error: {exc.detail}", file=sys.stderr)
            return 2
        except SatchelError as exc:
            _say(f"cannot record: {exc.detail}")
            return 1
        _say("this deployment is recorded; every replica is compared with it at its start")
        return 0

    return asyncio.run(run())


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 2
    if args.command == "keygen":
        from aries_askar import Store

        print(f"SATCHEL_SESSION_KEY={secrets.token_urlsafe(32)}")
        print(f"SATCHEL_DATA_KEY={secrets.token_urlsafe(32)}")
        print(f"SATCHEL_STORE_KEY={Store.generate_raw_key()}")
        print(f"SATCHEL_KEYRING_KEY={Store.generate_raw_key()}")
        return 0
    try:
        settings = _settings(args)
    except SettingsError as exc:
        print(f"satchel: configuration error: {exc.detail}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(settings)
    elif args.command == "migrate":
        _migrate(settings)
    elif args.command == "sweep":
        return _sweep(settings, adopt_strays=args.adopt_strays)
    elif args.command == "reset-summary-markers":
        return _reset_summary_markers(settings)
    elif args.command == "record-deployment":
        if not _session_key_kept(settings):
            _say(f"no session.key in the data folder {settings.data_dir} and no "
                 "SATCHEL_SESSION_KEY: is it the folder `satchel serve` uses? Nothing was "
                 "recorded")
            return 1
        return _record_deployment(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
