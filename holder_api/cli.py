"""The ``satchel`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import secrets
import sys
import textwrap
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from holder_api.settings import DECLARED, Settings, SettingsError

if TYPE_CHECKING:
    from holder_api.compose import Wiring

__all__ = ["main"]

log = logging.getLogger("satchel")


def _env_epilog() -> str:
    lines = ["Configuration (environment variables; NAME_FILE reads a secret from a file):", ""]
    for setting in DECLARED:
        lines.append(f"  {setting.label}")
        lines.extend(textwrap.wrap(setting.described,
                                   width=76, break_on_hyphens=False, break_long_words=False,
                                   initial_indent="      ", subsequent_indent="      "))
    lines += ["", "Examples:",
              "  satchel serve                      # embedded: SQLite in ./satchel-data",
              "  satchel serve --host 0.0.0.0 --port 8080",
              "  satchel keygen                     # fresh keys for a multi-replica deployment",
              "  satchel migrate                    # bring the database schema up to date",
              "  satchel sweep                      # clean up crashed sign-ups, finish erasures",
              "  satchel reset-summary-markers      # after a downgrade: rebuild summary rows",
              "  satchel record-deployment          # an upgrade whose data cannot vouch for "
              "its data key",
              "  satchel move-keyring --to postgres://keyring-db/keyring --to-key-file new.key",
              "                                     # a keyring kept in a data database, moved "
              "out"]
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
                           "schema on first start of the embedded default; a first start of a "
                           "deployment records it, every later start compares with that record "
                           "before serving (docs/operations.md). Exit status 0 after SIGTERM "
                           "(drained); 2 for settings in error or unlike the deployment's, "
                           "with one line naming the setting, nothing written; 1 when a store "
                           "cannot be reached at start-up.",
                           epilog=_env_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    serve.add_argument("--data-dir", help="same as SATCHEL_DATA_DIR (default ./satchel-data)")
    mig = sub.add_parser(
        "migrate", help="apply database migrations and exit",
        description="Bring the accounts database (SATCHEL_DATABASE_URL) to this release's "
        "schema and exit, saying which database and from which revision to which. `satchel "
        "serve` does the same at every start; run it ahead of a rolling upgrade so that no "
        "replica migrates while it starts. Waits, saying so, for a start or migration under way "
        "(the first-start lock), as long as it takes. It creates no key, no vault and no "
        "keyring, and no data folder: the embedded default's folder must exist. Exit status 0 "
        "once migrated; 1 when the database refused or there is no data folder; 2 for settings "
        "in error or a newer release's schema this one may not run beside.")
    mig.add_argument("--data-dir", help="same as SATCHEL_DATA_DIR")
    sweep = sub.add_parser(
        "sweep", help="remove what crashed sign-ups left behind and finish erasures cut short",
        description="Remove the erasure keys and vault profiles of sign-ups that never finished "
        "(a crash between creating them and the account row), then finish the learner "
        "erasures that a crash or a store failure cut short. Only sign-ups older than "
        "SATCHEL_SIGNUP_SWEEP_GRACE seconds are touched, so it is safe while replicas serve. "
        "`satchel serve` also does both at start-up and once per grace period. It checks the "
        "deployment as a replica does (exit status 2 with settings unlike the deployment's), "
        "creates nothing, and exits 1 while an erasure is left (run it again).")
    sweep.add_argument("--data-dir", help="same as SATCHEL_DATA_DIR")
    sweep.add_argument(
        "--adopt-strays", action="store_true",
        help="also take in erasure keys and vault profiles that no account and no sign-up record "
        "name (crashes of versions before sign-up records); they are removed by a sweep one grace "
        "period later. Check SATCHEL_DATABASE_URL first: against the wrong accounts database every "
        "learner looks like a stray (an empty one is refused)")
    sweep.add_argument(
        "--remove-stray-canaries", action="store_true",
        help="first remove the deployment canaries in the vault and keyring that this "
        "deployment did not record, left by a release before stamps (a first start that died "
        "or raced), which block --adopt-strays; refused (exit status 2, nothing removed) "
        "unless provably stray: made before stamps, and either every learner vault and key in "
        "the stores is this database's, or --canary-owner names the accounts database that "
        "recorded it and that holds no account (docs/operations.md, \"Crashed sign-ups\")")
    sweep.add_argument(
        "--canary-owner", metavar="URL",
        help="with --remove-stray-canaries: the accounts database (a SATCHEL_DATABASE_URL) "
        "that recorded the stray canary; it is only read")
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
    move = sub.add_parser(
        "move-keyring",
        help="move the erasure keyring out of a data database (where an earlier release kept "
        "it) into a store of its own",
        description="Copy every erasure key of the keyring SATCHEL_KEYRING_URI names (one of "
        "the data databases, where `satchel serve` refuses it, or any keyring store) into the "
        "new keyring --to names, check every copy against its key (by check value, and the "
        "count), record the new keyring in the deployment record, and only then, with "
        "--delete-old, delete the keys from the old keyring. Run it with every replica stopped "
        "and the environment of `satchel serve` as it is (the old keyring's settings); then "
        "start the replicas with SATCHEL_KEYRING_URI and SATCHEL_KEYRING_KEY[_FILE] of the new "
        "keyring. The keys of erasures under way are not copied (`satchel sweep` with the new "
        "keyring finishes them). It refuses a target that is a data database or holds another "
        "deployment's keys (exit status 2), and stops while replicas run (a session connected to "
        "the accounts database) or a store fails (exit status 1); idempotent, it picks up "
        "where it stopped. Until it has recorded the new keyring the old configuration is as "
        "it was (docs/operations.md: \"Moving the keyring\").")
    move.add_argument("--to", metavar="URI",
                      help="the new keyring: an Askar store of its own, postgres://… (a "
                      "database of its own, on a server of its own in production) or "
                      "sqlite://<file> (never a data database)")
    move.add_argument("--to-file", metavar="FILE",
                      help="read the new keyring's URI from FILE instead (keeps a password "
                      "out of the command line)")
    move.add_argument("--to-key-file", metavar="FILE", required=True,
                      help="the new keyring's raw store key (`satchel keygen`: "
                      "SATCHEL_KEYRING_KEY), another than the old keyring's: every backup of "
                      "the old keyring's database holds its keys under the old key")
    move.add_argument("--delete-old", action="store_true",
                      help="after the new keyring is recorded and every copy checks out, delete "
                      "the keys from the old keyring (until then every erasure since the move "
                      "leaves a copy there); then retire the old key")
    move.add_argument("--data-dir", help="same as SATCHEL_DATA_DIR")
    sub.add_parser(
        "keygen", help="print fresh secrets for a deployment (session, store, data and keyring "
        "keys)",
        description="Print four fresh secrets to standard output as NAME=value lines, the "
        "format of docker/example.env (`satchel keygen > .env`, or copy each into a secret "
        "store): SATCHEL_SESSION_KEY, SATCHEL_DATA_KEY, SATCHEL_STORE_KEY and "
        "SATCHEL_KEYRING_KEY. Every replica of a deployment needs the same values. The data and "
        "store keys never change once learners exist (the session key may be rotated, the "
        "keyring key changes with `satchel move-keyring`: docs/operations.md). Nothing else is "
        "read or written.")
    return p


#: the commands that only work on what `satchel serve` created: they create nothing
_OPERATOR_COMMANDS = frozenset({"sweep", "reset-summary-markers", "record-deployment",
                                "move-keyring"})


def _environment(args: argparse.Namespace) -> dict[str, str]:
    import os

    env = dict(os.environ)
    if getattr(args, "data_dir", None):
        env["SATCHEL_DATA_DIR"] = args.data_dir
    return env


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(_environment(args), host=getattr(args, "host", "127.0.0.1"),
                             port=getattr(args, "port", 8080),
                             # `satchel migrate` makes the schema, never a key; `satchel serve`
                             # makes its key once nothing refuses the start (_serve)
                             provision=args.command not in _OPERATOR_COMMANDS | {"migrate",
                                                                                 "serve"},
                             # the one command that reads a keyring kept in a data database
                             keyring_apart=args.command != "move-keyring")


def _session_key_kept(settings: Settings) -> bool:
    """Whether the session key is the deployment's own, not one made up for this command (an
    operator command creates no ``session.key``)."""
    import os

    return bool(os.environ.get("SATCHEL_SESSION_KEY") or os.environ.get("SATCHEL_SESSION_KEY_FILE")
                or (settings.data_dir / "session.key").exists())


def _say(message: str) -> None:
    print(f"satchel: {message}", file=sys.stderr, flush=True)


def _serve(args: argparse.Namespace, checked: Settings) -> int:
    """``checked``: every setting read, nothing written (no ``session.key`` made). Everything
    else that can refuse the start is asked next, still writing nothing
    (holder_api.compose.preflight); only then are the settings read again, making the
    embedded default's ``session.key``, and the start creates what it needs. A refused start
    leaves the data folder and the databases as they were."""
    from holder_api.app import create_app
    from holder_api.lifecycle import check, serve
    from holder_api.logs import configure_logging

    configure_logging(checked.log_level)
    store = "embedded SQLite" if checked.embedded_vault else "external vault"
    # "serving on" is said once it listens (holder_api.lifecycle): a start refused after this
    # line never said it served
    print(f"satchel: starting ({store}, data in {checked.data_dir}) ...", file=sys.stderr,
          flush=True)
    refused = check(checked)
    if refused:
        return refused
    try:
        settings = Settings.from_env(_environment(args), host=args.host, port=args.port)
    except SettingsError as exc:  # the same environment read again: only a race
        print(f"satchel: configuration error: {exc.detail}", file=sys.stderr)
        return 2
    return serve(create_app(settings), settings)


def _migrate(settings: Settings) -> int:
    """Migrate the schema, one start or migration at a time (the first-start lock): waits for
    one under way as long as it takes, saying so. Exit status 0; 2 for a newer release's schema;
    1 when the database refused (one line naming the cause, as the other operator commands)."""
    from pathlib import Path

    from holder_api.compose.migrations import database_named, run_migrations, schema_heads
    from holder_api.compose.stores import first_start
    from wallet.db import create_engine, is_sqlite

    def waiting() -> None:
        _say("waiting for another start or migration to finish (the first-start lock) ...")

    async def work() -> int:
        engine = create_engine(settings.database_url)
        # named by its file or database name, never by its URL (which may carry a password)
        database = database_named(engine.url)
        try:
            print("satchel: migrating the database schema ...", file=sys.stderr, flush=True)
            # beside replicas starting: one at a time; a migration under way is waited for
            async with first_start(engine, wait=math.inf, on_wait=waiting):
                before = await schema_heads(engine)
                await run_migrations(engine)
                after = await schema_heads(engine)
        finally:
            await engine.dispose()
        now = ", ".join(after)
        did = (f"it had none; now at {now}" if not before else
               f"at {now}: nothing to do" if before == after else
               f"migrated from {', '.join(before)} to {now}")
        _say(f"schema is up to date ({database}: {did})")
        return 0

    if is_sqlite(settings.database_url):
        folder = Path(settings.database_url.split("///", 1)[-1]).parent
        if not folder.is_dir():  # a mistyped --data-dir: no new folder, database or key for it
            _say(f"no data folder {folder} (`satchel serve` makes it at its first start): "
                 "check --data-dir / SATCHEL_DATA_DIR. Nothing was created")
            return 1

    try:
        return _exit_status(work, refusing="the database")
    except KeyboardInterrupt:  # while it waits, say (the lock goes with the connection)
        _say("interrupted; run it again to migrate")
        return 130


def _operator(run: Callable[[Wiring], Awaitable[int]], settings: Settings) -> int:
    """Run an operator command on the deployment's stores, opened as every command opens them:
    by :func:`holder_api.compose.wire` with ``serving=False`` — through the same checks as a
    replica's start (the deployment record, the schema this release knows) and creating
    nothing. Exit status: ``run``'s; 1 when there is no vault there or a store failed; 2 when
    the settings are unlike the deployment's (as `satchel serve`)."""
    from prometheus_client import CollectorRegistry

    from holder_api.compose import wire
    from wallet.clock import SYSTEM_CLOCK

    async def opened() -> int:
        async with wire(settings, clock=SYSTEM_CLOCK, host_resolver=None,
                        metrics=CollectorRegistry(), serving=False) as wiring:
            return await run(wiring)

    return _exit_status(opened)


def _exit_status(work: Callable[[], Awaitable[int]], *, refusing: str = "a store") -> int:
    """An operator command's ``work`` run, its failures said in one line: 1 when there is no
    vault there or a store failed (``refusing`` names it); 2 when the settings are unlike the
    deployment's or a newer release's schema is there."""
    from sqlalchemy.exc import SQLAlchemyError

    from holder_api.compose.stores import NoDeployment
    from wallet.errors import SatchelError

    async def run() -> int:
        try:
            return await work()
        except NoDeployment as exc:
            _say(exc.detail)
            return 1
        except SettingsError as exc:
            _say(f"configuration error: {exc.detail}")
            return 2
        except SatchelError as exc:
            _say(f"stopped: {exc.detail} (idempotent: run it again once that is mended)")
            return 1
        except (OSError, SQLAlchemyError) as exc:  # its type only: a message may hold the URL
            _say(f"stopped: {refusing} refused ({type(exc).__name__}); run it again")
            return 1

    return asyncio.run(run())


def _sweep(settings: Settings, *, adopt_strays: bool = False, strays: bool = False,
           owner: str | None = None) -> int:
    from holder_api.compose.deployment import remove_stray_canaries
    from wallet.accounts.sweep import OrphanSweep
    from wallet.db import create_engine

    def erasures(done: int, total: int) -> None:
        _say(f"{done}/{total} erasure(s) cut short done" if done else
             f"finishing {total} erasure(s) cut short ...")

    async def run(wiring: Wiring) -> int:
        stores = wiring.stores
        if strays:
            _say("looking for stray deployment canaries ...")
            other = create_engine(owner) if owner is not None else None
            try:
                removed = await remove_stray_canaries(stores.engine, stores.vault,
                                                      stores.keyring, owner=other)
            finally:
                if other is not None:
                    await other.dispose()
            _say(f"removed {removed} stray canary(ies)")
        _say(f"sweeping sign-ups that did not finish within {settings.signup_sweep_grace} s ...")
        report = await OrphanSweep(
            engine=stores.engine, vault=stores.vault, keyring=stores.keyring,
            grace_seconds=settings.signup_sweep_grace,
            adopt_strays=adopt_strays).run(progress=_say)
        _say(f"removed {report.removed} orphaned erasure key(s) and vault profile(s)")
        if report.adopted:
            _say(f"{report.adopted} left by older versions found; they are removed by a sweep "
                 f"after {settings.signup_sweep_grace} s")
        _say(f"{report.waiting} sign-up(s) younger than the grace period kept")
        finished, failed = await wiring.rights.finish_erasures(erasures)
        _say(f"done: {report.removed} crashed sign-up(s) removed, {report.waiting} kept; "
             f"{finished} erasure(s) cut short finished, {failed} left"
             + (" (a store failed: run it again)" if failed else ""))
        return 1 if failed else 0

    return _operator(run, settings)


def _reset_summary_markers(settings: Settings) -> int:
    def progress(done: int, total: int, removed: int) -> None:
        _say(f"{done}/{total} vaults checked, {removed} marker(s) removed")

    async def run(wiring: Wiring) -> int:
        _say("removing the credential summary markers ...")
        total, removed = await wiring.stores.vault.forget_summary_markers(progress)
        _say(f"done: {removed} marker(s) removed of {total} vault(s); each rebuilds its summary "
             "rows at its first list with SATCHEL_SUMMARY_ROWS=read")
        return 0

    return _operator(run, settings)


def _record_deployment(settings: Settings) -> int:
    """The stores opened as an operator command opens them (creating nothing), with the data
    key vouched for by the operator: what is not recorded yet is, after every other check."""
    from holder_api.compose.stores import open_stores
    from wallet.clock import SYSTEM_CLOCK

    async def run() -> int:
        async with open_stores(settings, SYSTEM_CLOCK, None, provision=False,
                               data_key_vouched=True) as stores:
            recorded = stores.recorded
        _say(f"recorded this deployment's settings ({', '.join(recorded)}); every replica is "
             "compared with them at its start" if recorded else "this deployment was recorded "
             "already: compared with these settings, alike; nothing changed")
        return 0

    return _exit_status(run)


def _target(args: argparse.Namespace, env: dict[str, str]) -> Settings:
    """The deployment's settings with the new keyring's URI and key: checked as `satchel serve`
    checks its own (never a data database, a key where a store needs one)."""
    from pathlib import Path

    if (args.to is None) == (args.to_file is None):
        raise SettingsError("move-keyring needs the new keyring: --to URI or --to-file FILE")
    try:
        uri = args.to if args.to is not None else Path(args.to_file).read_text("utf-8").strip()
    except OSError as exc:
        raise SettingsError("cannot read --to-file") from exc
    target = {k: v for k, v in env.items()
              if k not in ("SATCHEL_KEYRING_KEY", "SATCHEL_KEYRING_KEY_FILE")}
    target.update(SATCHEL_KEYRING_URI=uri, SATCHEL_KEYRING_KEY_FILE=args.to_key_file)
    from holder_api.compose.keyring_move import in_data
    from holder_api.settings import KeyringInData

    try:
        return Settings.from_env(target, provision=False)
    except KeyringInData as exc:
        raise in_data(exc) from None
    except SettingsError as exc:
        raise SettingsError(f"the new keyring (--to, --to-key-file): {exc.detail}") from None


def _move_keyring(settings: Settings, target: Settings, *, delete_old: bool) -> int:
    from holder_api.compose.keyring_move import move_keyring
    from wallet.clock import SYSTEM_CLOCK

    async def run() -> int:
        _say("moving the erasure keyring (every replica must be stopped) ...")
        moved = await move_keyring(settings, target, SYSTEM_CLOCK, delete_old=delete_old,
                                   say=_say)
        where = ("recorded now" if moved.recorded else "recorded already")
        old = (f"{moved.deleted} deleted from the old keyring, {moved.left} left there"
               if delete_old else f"{moved.left} left in the old keyring (--delete-old deletes "
               "them)")
        dropped = (f", {moved.dropped} copy(ies) removed again (their key destroyed or its "
                   "erasure begun meanwhile)" if moved.dropped else "")
        _say(f"done: {moved.verified} key(s) in the new keyring checked ({moved.copied} "
             f"copied now, {moved.erasing} of erasures under way left for `satchel sweep`"
             f"{dropped}); "
             f"the new keyring is {where}: start the replicas with its SATCHEL_KEYRING_URI and "
             f"SATCHEL_KEYRING_KEY; {old}")
        return 0

    try:
        return _exit_status(run)
    except KeyboardInterrupt:  # the record is one transaction: before it, nothing changed
        _say("interrupted; run it again to move the keyring")
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:  # an error: said on stderr, short (--help has the rest)
        parser = _parser()
        commands = next(a for a in parser._actions
                        if isinstance(a, argparse._SubParsersAction)).choices
        print(parser.format_usage().rstrip(), file=sys.stderr)
        _say(f"a command is needed: {', '.join(commands)} (`satchel --help` explains each, "
             "and every setting)")
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
        if args.command == "move-keyring":
            return _move_keyring(settings, _target(args, _environment(args)),
                                 delete_old=args.delete_old)
    except SettingsError as exc:
        print(f"satchel: configuration error: {exc.detail}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(args, settings)
    elif args.command == "migrate":
        return _migrate(settings)
    elif args.command == "sweep":
        if args.canary_owner is not None and not args.remove_stray_canaries:
            _say("configuration error: --canary-owner goes with --remove-stray-canaries")
            return 2
        return _sweep(settings, adopt_strays=args.adopt_strays,
                      strays=args.remove_stray_canaries, owner=args.canary_owner)
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
