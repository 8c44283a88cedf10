"""The ``satchel`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import sys
import textwrap
from collections.abc import Sequence

from holder_api.settings import DECLARED, Settings, SettingsError

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
              "  satchel reset-summary-markers      # after a downgrade: rebuild summary rows"]
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
        help="make every vault rebuild its credential summary rows at its next list (after "
        "running a version without summary rows)",
        description="Remove every learner's marker saying that their credential summary rows "
        "are complete, so that each learner's next credential list with "
        "SATCHEL_SUMMARY_ROWS=read reads the credential rows and completes the summary rows "
        "again (one guarded transaction, as after the first upgrade). Run it after an earlier "
        "version that does not write summary rows has run against this vault (a downgrade), once "
        "no replica of that version runs any more: until then, lists would miss the credentials "
        "it stored (docs/operations.md). Idempotent, needs no learner's key, and safe while "
        "replicas of this version serve.")
    markers.add_argument("--data-dir", help="same as SATCHEL_DATA_DIR")
    sub.add_parser("keygen", help="print fresh secrets for a deployment (session, store, data and "
                   "keyring keys)")
    return p


def _settings(args: argparse.Namespace) -> Settings:
    import os

    env = dict(os.environ)
    if getattr(args, "data_dir", None):
        env["SATCHEL_DATA_DIR"] = args.data_dir
    return Settings.from_env(env, host=getattr(args, "host", "127.0.0.1"),
                             port=getattr(args, "port", 8080))


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
    from wallet.errors import NotFound, SatchelError
    from wallet.vault import VaultStore, load_or_create_store_key

    def say(message: str) -> None:
        print(f"satchel: {message}", file=sys.stderr, flush=True)

    async def run() -> int:
        engine = create_engine(settings.database_url)
        try:
            await run_migrations(engine)
            store_key = settings.store_key or load_or_create_store_key(settings.data_dir)
            try:
                vault = await VaultStore.open(settings.vault_uri, store_key, provision=False,
                                              summary_rows=settings.summary_rows)
            except NotFound:
                say("there is no vault yet: nothing to sweep")
                return 0
            keyring = await open_keyring(settings)
            try:
                say(f"sweeping sign-ups that did not finish within "
                    f"{settings.signup_sweep_grace} s ...")
                report = await OrphanSweep(
                    engine=engine, vault=vault, keyring=keyring,
                    grace_seconds=settings.signup_sweep_grace,
                    adopt_strays=adopt_strays).run(progress=say)
            finally:
                await keyring.close()
                await vault.close()
        except SatchelError as exc:
            say(f"sweep failed: {exc.detail}")
            return 1
        finally:
            await engine.dispose()
        say(f"removed {report.removed} orphaned erasure key(s) and vault profile(s)")
        if report.adopted:
            say(f"{report.adopted} left by older versions found; they are removed by a sweep "
                f"after {settings.signup_sweep_grace} s")
        say(f"{report.waiting} sign-up(s) younger than the grace period kept")
        return 0

    return asyncio.run(run())


def _reset_summary_markers(settings: Settings) -> int:
    from wallet.errors import NotFound, SatchelError
    from wallet.vault import VaultStore, load_or_create_store_key

    def say(message: str) -> None:
        print(f"satchel: {message}", file=sys.stderr, flush=True)

    def progress(done: int, total: int, removed: int) -> None:
        say(f"{done}/{total} vaults checked, {removed} marker(s) removed")

    async def run() -> int:
        store_key = settings.store_key or load_or_create_store_key(settings.data_dir)
        try:
            vault = await VaultStore.open(settings.vault_uri, store_key, provision=False)
        except NotFound:
            say("there is no vault yet: nothing to reset")
            return 0
        except SatchelError as exc:
            say(f"the vault could not be opened: {exc.detail}")
            return 1
        try:
            say("removing the credential summary markers ...")
            total, removed = await vault.forget_summary_markers(progress)
        except SatchelError as exc:
            say(f"stopped: {exc.detail} (run it again: it is idempotent)")
            return 1
        finally:
            await vault.close()
        say(f"done: {removed} of {total} vault(s) will rebuild their summary rows at their next "
            "list")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
