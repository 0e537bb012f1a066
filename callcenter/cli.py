"""`callcenter` command line. A subcommand is one function registered with `@command`.

The registered function receives its subparser, adds its arguments and sets `run(args) -> int` as the
parser's default. Errors a person can fix (bad settings, a missing trace, an unreachable database)
end in one clear line on stderr and a non-zero exit, not a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from callcenter.settings import Settings, SettingsError, load_settings, mask_url, settings_path

Configure = Callable[[argparse.ArgumentParser], None]
Run = Callable[[argparse.Namespace], int]

# The command table is static data filled at import by the decorators below, like argparse's own
# tables; it holds no state of a running server.
_COMMANDS: dict[str, tuple[Configure, str]] = {}

EXIT_FAILURE = 1  # the command ran and failed (database unreachable, ...)
EXIT_USAGE = 2    # the input was wrong (bad settings, missing or malformed file), as argparse uses it


def command(name: str, help: str) -> Callable[[Configure], Configure]:
    """Register `configure(parser)`, which adds the arguments and sets the parser's `run` default."""
    def register(configure: Configure) -> Configure:
        _COMMANDS[name] = (configure, help)
        return configure
    return register


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(_config_path(args))


def _config_path(args: argparse.Namespace) -> Path | None:
    return Path(args.config) if args.config else None


@command("serve", "run the call center (AMI, tracker, history, HTTP API)")
def _serve(parser: argparse.ArgumentParser) -> None:
    def run(args: argparse.Namespace) -> int:
        from callcenter.app import CallCenter

        settings = _settings(args)
        logging.basicConfig(level=settings.log.level,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        asyncio.run(CallCenter(settings).run())
        return 0

    parser.set_defaults(run=run)


@command("demo", "run the whole call center with the built-in SIMULATED PBX, demo agents and callers")
def _demo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--speed", type=float, default=None,
                        help="PBX time runs this many times faster than real time (load tests, benchmarks)")
    parser.add_argument("--port", type=int, default=None, help="HTTP port (default: http.port of the settings)")

    def run(args: argparse.Namespace) -> int:
        from callcenter.demo import demo_settings, run_demo

        if args.speed is not None and not 0 < args.speed <= 1000:
            return _fail("demo", f"--speed {args.speed}: must be above 0 and at most 1000", EXIT_USAGE)
        settings = demo_settings(_settings(args), speed=args.speed, http_port=args.port)
        logging.basicConfig(level=settings.log.level,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        asyncio.run(run_demo(settings))
        return 0

    parser.set_defaults(run=run)


@command("replay", "replay a recorded AMI trace and print one JSON call record per line")
def _replay(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace", type=Path, help="JSONL trace (tests/traces format) or a JSON array of events")

    def run(args: argparse.Namespace) -> int:
        from callcenter.replay import run as replay
        from cti.trace import TraceError

        if not args.trace.is_file():
            return _fail("replay", f"{args.trace}: no such file", EXIT_USAGE)
        try:
            return replay(args.trace, sys.stdout)
        except TraceError as exc:
            return _fail("replay", str(exc), EXIT_USAGE)
        except UnicodeDecodeError as exc:
            return _fail("replay", f"{args.trace}: not UTF-8 text ({exc.reason} at byte {exc.start})", EXIT_USAGE)
        except OSError as exc:
            return _fail("replay", f"{args.trace}: {exc.strerror or exc}", EXIT_USAGE)

    parser.set_defaults(run=run)


@command("migrate", "bring the configured database to the latest schema")
def _migrate(parser: argparse.ArgumentParser) -> None:
    def run(args: argparse.Namespace) -> int:
        from sqlalchemy.exc import SQLAlchemyError

        from callcenter.migrations import migrate

        url = _settings(args).database.url
        try:
            asyncio.run(migrate(url))
        except (OSError, SQLAlchemyError) as exc:
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            return _fail("migrate", f"{mask_url(url)}: {type(exc).__name__}: {reason}", EXIT_FAILURE)
        print(f"{mask_url(url)}: schema is up to date")
        return 0

    parser.set_defaults(run=run)


@command("config", "show or check the effective settings (file, then CALLCENTER__SECTION__KEY variables)")
def _config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["show", "check"],
                        help="show: print them as JSON with secrets masked; check: validate only")

    def run(args: argparse.Namespace) -> int:
        settings = _settings(args)
        if args.action == "show":
            print(json.dumps(settings.masked(), indent=2))
        else:
            print(f"{settings_path(_config_path(args))}: settings are valid")
        return 0

    parser.set_defaults(run=run)


@command("user", "add or list the users who sign in (agents, supervisors, admins)")
def _user(parser: argparse.ArgumentParser) -> None:
    from callcenter.auth.service import Role

    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a user; the password is asked for (or read from stdin)")
    add.add_argument("login", help="login name: a-z 0-9 . _ @ -")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--endpoint", help="the agent's PJSIP endpoint, e.g. agent1001 (required for agents)")
    add.add_argument("--name", help="display name (default: the login name)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    add.set_defaults(run=lambda args: _database_command("user add", args, _user_add))
    listing = actions.add_parser("list", help="list the users")
    listing.set_defaults(run=lambda args: _database_command("user list", args, _user_list))


@command("customers", "customer records: import a CSV file")
def _customers(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    importing = actions.add_parser("import", help="import customers from a CSV file (UTF-8, with a header row)")
    importing.add_argument("file", type=Path)
    importing.add_argument("--upsert", action="store_true", help="a known reference updates that customer")
    importing.set_defaults(run=lambda args: _database_command("customers import", args, _customers_import))


async def _user_add(args: argparse.Namespace, settings: Settings, sessions: Any) -> int:
    from callcenter.auth.service import AuthService, Role

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"password for {args.login}: ")
        if getpass.getpass("again: ") != password:
            return _fail("user add", "the passwords differ", EXIT_USAGE)
    auth = AuthService(sessions, settings.auth)
    user = await auth.create_user(args.login, args.name or args.login, Role(args.role), password,
                                  endpoint=args.endpoint)
    print(f"user {user.login} ({user.role.value}{', ' + user.endpoint if user.endpoint else ''}) added")
    return 0


async def _user_list(_args: argparse.Namespace, settings: Settings, sessions: Any) -> int:
    from callcenter.auth.service import AuthService

    for user in await AuthService(sessions, settings.auth).users():
        state = "disabled" if user.disabled else "enabled"
        print(f"{user.login}\t{user.role.value}\t{user.endpoint or '-'}\t{state}\t{user.display_name}")
    return 0


async def _customers_import(args: argparse.Namespace, _settings: Settings, sessions: Any) -> int:
    from callcenter.customers.importer import parse_csv
    from callcenter.customers.service import CustomerService

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        return _fail("customers import", f"{args.file}: {exc.strerror or exc}", EXIT_USAGE)
    report = await CustomerService(sessions).import_rows(*parse_csv(data), upsert=args.upsert)
    print(f"{args.file}: {report.created} created, {report.updated} updated, {len(report.rejected)} rejected")
    for rejected in report.rejected:
        print(f"row {rejected.row} ({rejected.reference or 'no reference'}): {rejected.reason}")
    return 1 if report.rejected else 0  # the good rows are in; a script still learns that some were not


DatabaseCommand = Callable[[argparse.Namespace, Settings, Any], Coroutine[Any, Any, int]]


def _database_command(name: str, args: argparse.Namespace, body: DatabaseCommand) -> int:
    """Run `body` on a migrated database; a refused input or an unreachable database ends in one line."""
    from sqlalchemy.exc import SQLAlchemyError

    from callcenter.db.engine import create_sessionmaker
    from callcenter.errors import ServiceError
    from callcenter.migrations import migrate

    settings = _settings(args)
    url = settings.database.url

    async def run() -> int:
        await migrate(url)
        engine, sessions = create_sessionmaker(url)
        try:
            return await body(args, settings, sessions)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except ServiceError as exc:
        return _fail(name, exc.message, EXIT_USAGE)
    except (OSError, SQLAlchemyError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        return _fail(name, f"{mask_url(url)}: {type(exc).__name__}: {reason}", EXIT_FAILURE)


@command("asterisk", "render Asterisk's configuration from the settings and the agent list, or check one")
def _asterisk(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    render = actions.add_parser("config", help="write the .conf files for Asterisk (secrets from the environment)")
    render.add_argument("--out", type=Path, required=True, help="folder to write into (Asterisk's config folder)")
    render.add_argument("--templates", type=Path, default=Path("config/asterisk"),
                        help="folder of the templates (default: config/asterisk)")
    verify = actions.add_parser("check", help="check rendered files against what the call center relies on")
    verify.add_argument("folder", type=Path, help="folder of rendered .conf files")

    def run(args: argparse.Namespace) -> int:
        from callcenter.asterisk.check import check
        from callcenter.asterisk.phones import PhoneError, load_phones
        from callcenter.asterisk.render import RenderError, write
        from callcenter.asterisk.render import render as render_files

        if args.action == "check":
            problems = check(args.folder)
            for problem in problems:
                print(problem, file=sys.stderr)
            if problems:
                return _fail("asterisk check", f"{len(problems)} problem(s) in {args.folder}", EXIT_FAILURE)
            print(f"{args.folder}: the call center's Asterisk contract is all there")
            return 0
        settings = _settings(args)
        try:
            files = render_files(settings, load_phones(settings.asterisk.agents_file), templates=args.templates)
        except (PhoneError, RenderError) as exc:
            return _fail("asterisk config", f"cannot render:\n{exc}", EXIT_USAGE)
        problems = check_rendered(files, check)
        if problems:
            return _fail("asterisk config", "the rendered files fail the check:\n" + "\n".join(problems), EXIT_FAILURE)
        for path in write(files, args.out):
            print(path)
        return 0

    parser.set_defaults(run=run)


@command("ivr", "IVR flows: check them, simulate a call, draw them (Mermaid)")
def _ivr(parser: argparse.ArgumentParser) -> None:
    from callcenter.ivr import cli as ivr_cli

    ivr_cli.configure(parser, _settings)
    parser.set_defaults(run=lambda args: ivr_cli.run(args, _settings(args)))


def check_rendered(files: dict[str, str], check: Callable[[Path], list[str]]) -> list[str]:
    """Check before writing: a configuration that fails never reaches Asterisk's folder."""
    import tempfile

    from callcenter.asterisk.render import write

    with tempfile.TemporaryDirectory() as scratch:
        write(files, Path(scratch))
        return [problem.replace(scratch, "<rendered>") for problem in check(Path(scratch))]


def _fail(name: str, message: str, code: int) -> int:
    print(f"callcenter {name}: {message}", file=sys.stderr)
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callcenter", description="Call center server for Asterisk")
    parser.add_argument("--config", help="settings file (default: $CALLCENTER_CONFIG or config/callcenter.yaml)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (configure, help_text) in _COMMANDS.items():
        configure(commands.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Run = args.run
    try:
        return run(args)
    except SettingsError as exc:
        print(f"callcenter: bad settings:\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
