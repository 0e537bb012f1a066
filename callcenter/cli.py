"""`callcenter` command line. A subcommand is one function registered with `@command`.

The registered function receives its subparser, adds its arguments and sets `run(args) -> int` as the
parser's default. Errors a person can fix (bad settings, a missing trace, an unreachable database)
end in one clear line on stderr and a non-zero exit, not a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

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
