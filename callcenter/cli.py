"""`callcenter` command line. A subcommand is one function registered with `@command`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from callcenter.settings import Settings, SettingsError, load_settings

Configure = Callable[[argparse.ArgumentParser], None]
_COMMANDS: dict[str, tuple[Configure, str]] = {}


def command(name: str, help: str) -> Callable[[Configure], Configure]:
    """Register `configure(parser)`, which adds the arguments and sets the parser's `run` default."""
    def register(configure: Configure) -> Configure:
        _COMMANDS[name] = (configure, help)
        return configure
    return register


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(Path(args.config) if args.config else None)


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
            print(f"callcenter replay: {args.trace}: no such file", file=sys.stderr)
            return 2
        try:
            return replay(args.trace, sys.stdout)
        except (TraceError, UnicodeDecodeError) as exc:
            print(f"callcenter replay: {exc}", file=sys.stderr)
            return 2

    parser.set_defaults(run=run)


@command("migrate", "bring the configured database to the latest schema")
def _migrate(parser: argparse.ArgumentParser) -> None:
    def run(args: argparse.Namespace) -> int:
        from callcenter.migrations import migrate

        asyncio.run(migrate(_settings(args).database.url))
        print("database is up to date")
        return 0

    parser.set_defaults(run=run)


@command("config", "show or check the effective settings")
def _config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["show", "check"])

    def run(args: argparse.Namespace) -> int:
        settings = _settings(args)
        if args.action == "show":
            print(json.dumps(settings.masked(), indent=2))
        else:
            print("settings are valid")
        return 0

    parser.set_defaults(run=run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callcenter", description="Call center server for Asterisk")
    parser.add_argument("--config", help="settings file (default: $CALLCENTER_CONFIG or config/callcenter.yaml)")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (configure, help_text) in _COMMANDS.items():
        configure(commands.add_parser(name, help=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.run(args)
    except SettingsError as exc:
        print(f"callcenter: bad settings:\n{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return result
