"""The ``incident-timer`` command line."""

from __future__ import annotations

import argparse
import base64
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from pydantic import AwareDatetime, TypeAdapter, ValidationError

from worker import schemas
from worker.adapters.embedded_broker import BrokerError
from worker.adapters.kafka_admin import TopologyError
from worker.settings import ISO_DURATION, SettingsError, add_flags
from worker.settings import from_args as settings_from_args
from worker.domain.policy import PolicyError, load_policy
from worker.domain.timers import EngineSettings, TicketEngine
from worker.messages import DeadLetter
from worker.replay import BadLine, read_events, replay, summarise

INSTANT = TypeAdapter(AwareDatetime)


def _duration(text: str):
    try:
        return ISO_DURATION.validate_python(text)
    except ValidationError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 duration such as PT24H") from None


def _instant(text: str) -> datetime:
    try:
        return INSTANT.validate_python(text)
    except ValidationError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an RFC 3339 time with a UTC offset") from None


def _engine_args(parser: argparse.ArgumentParser) -> None:
    defaults = EngineSettings()
    parser.add_argument("--policy", metavar="FILE", help="SLA policy (YAML); default: the built-in policy")
    parser.add_argument(
        "--orphan-ttl", type=_duration, default=defaults.orphan_ttl, metavar="DURATION",
        help="how long events wait for their ticket's opened event (default PT24H)",
    )
    parser.add_argument(
        "--closed-retention", type=_duration, default=defaults.closed_retention, metavar="DURATION",
        help="how long a closed ticket is kept for late events and reopening (default P30D)",
    )


def _cmd_replay(args: argparse.Namespace) -> int:
    policy = load_policy(args.policy)
    engine = TicketEngine(policy, EngineSettings(args.orphan_ttl, args.closed_retention))
    events = []
    bad = 0
    rejects = open(args.rejects, "w", encoding="utf-8") if args.rejects else None
    try:
        with open(args.events, "rb") as source:
            for item in read_events(source, policy):
                if isinstance(item, BadLine):
                    bad += 1
                    print(f"{args.events}:{item.line}: skipped ({item.rejection.reason}): "
                          f"{item.rejection.detail}", file=sys.stderr)
                    if rejects:
                        rejects.write(_dead_letter(item, args.events).model_dump_json() + "\n")
                else:
                    events.append(item)
    finally:
        if rejects:
            rejects.close()
    result = replay(events, engine, arrival_order=args.arrival_order, until=args.until)
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    try:
        for output in result.outputs:
            out.write(output.model_dump_json() + "\n")
    finally:
        if args.out:
            out.close()
    print(summarise(result) + f", bad lines skipped: {bad}", file=sys.stderr)
    return 0


def _dead_letter(item: BadLine, source: str) -> DeadLetter:
    return DeadLetter(
        reason=item.rejection.reason,
        detail=item.rejection.detail,
        source_topic=source,
        line=item.line,
        payload_base64=base64.b64encode(item.raw).decode("ascii"),
        rejected_at=datetime.now(timezone.utc),
    )


def _cmd_schemas(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    if args.check:
        stale = schemas.stale(directory)
        if stale:
            print(f"out of date in {directory}: {', '.join(stale)}; run: incident-timer schemas --write",
                  file=sys.stderr)
            return 1
        print(f"{directory}: schemas match the models")
        return 0
    for path in schemas.write(directory):
        print(path)
    return 0


def _cmd_check_policy(args: argparse.Namespace) -> int:
    policy = load_policy(args.policy)
    print(f"{args.policy}: valid ({len(policy.regions)} regions: {', '.join(sorted(policy.regions))})")
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    import asyncio

    import faust

    from worker.adapters.faust_runtime import TimerApp
    from worker.adapters.kafka_admin import prepare_topics

    from worker.adapters.logs import configure, logging_config

    settings = settings_from_args(args)
    configure(settings.log_level, settings.log_format)
    policy = load_policy(settings.policy)  # a bad policy stops us before anything is consumed
    partitions = asyncio.run(prepare_topics(settings))
    runtime = TimerApp(settings, policy, partitions)
    worker = faust.Worker(
        runtime.app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False,
        logging_config=logging_config(settings.log_level, settings.log_format),
    )
    worker.spinner = None  # stdout carries JSON log lines: no terminal control codes
    worker.execute_from_commandline()
    return 0


def _cmd_dev(args: argparse.Namespace) -> int:
    from worker.dev import run_dev

    return run_dev(Path(args.events) if args.events else None, args.tickets, args.duration, args.partitions)


def _cmd_send(args: argparse.Namespace) -> int:
    import asyncio

    from worker.adapters.kafka_tools import send_lines

    settings = settings_from_args(args)
    with open(args.events, "rb") as source:
        sent, skipped = asyncio.run(send_lines(source, settings, topic=args.topic))
    print(f"sent {sent} events, skipped {skipped}", file=sys.stderr)
    return 0 if not skipped else 1


def _cmd_tail(args: argparse.Namespace) -> int:
    import asyncio

    from worker.adapters.kafka_tools import tail

    settings = settings_from_args(args)
    try:
        asyncio.run(tail(args.topic, settings, args.from_beginning, limit=args.limit))
    except KeyboardInterrupt:
        pass
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="incident-timer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("replay", help="replay an event file offline and print the SLA facts")
    p.add_argument("events", help="input events, one JSON object per line")
    _engine_args(p)
    p.add_argument("--out", metavar="FILE", help="write output events here (default: stdout)")
    p.add_argument("--arrival-order", action="store_true",
                   help="apply events in file order instead of occurred-at order")
    p.add_argument("--until", type=_instant, metavar="TIME",
                   help="advance the clock to this time at the end (default: the latest occurred-at)")
    p.add_argument("--rejects", metavar="FILE", help="write bad lines here as dead-letter records")
    p.set_defaults(run=_cmd_replay)

    p = commands.add_parser("worker", help="run the Kafka worker (production entry point)")
    add_flags(p)
    p.set_defaults(run=_cmd_worker)

    p = commands.add_parser("dev", help="embedded broker + worker + the bundled example events, printing what fires")
    p.add_argument("--events", metavar="FILE", help="events to feed (default: the bundled Volvo sample)")
    p.add_argument("--tickets", type=int, default=30, help="how many tickets of the file to feed (default 30)")
    p.add_argument("--partitions", type=int, default=4, help="partitions of the topics (default 4)")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long (default: until Ctrl-C)")
    p.set_defaults(run=_cmd_dev)

    p = commands.add_parser("send", help="send an event file to the input topics, each event by its type")
    p.add_argument("events", help="input events, one JSON object per line")
    p.add_argument("--topic", help="send every line to this topic instead, as it is (for testing bad input)")
    add_flags(p)
    p.set_defaults(run=_cmd_send)

    p = commands.add_parser("tail", help="print the records of a topic as JSON lines")
    p.add_argument("topic")
    p.add_argument("--from-beginning", action="store_true", help="start at the oldest record")
    p.add_argument("--limit", type=int, help="stop after this many records")
    add_flags(p)
    p.set_defaults(run=_cmd_tail)

    p = commands.add_parser("schemas", help="write (or --check) the JSON Schema files of the contract")
    p.add_argument("--dir", default="schemas", help="directory (default: schemas)")
    p.add_argument("--check", action="store_true", help="exit 1 if the files differ from the models")
    p.set_defaults(run=_cmd_schemas)

    p = commands.add_parser("check-policy", help="validate a policy file and exit")
    p.add_argument("policy", help="policy file (YAML)")
    p.set_defaults(run=_cmd_check_policy)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (PolicyError, SettingsError, TopologyError, BrokerError) as exc:
        print(f"incident-timer: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"incident-timer: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
