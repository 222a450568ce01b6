"""`scantrace topics`: create and list the topics of SPEC section 7."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from scantrace_common.settings import DEFAULT_RETENTION_DAYS
from scantrace_common.topics import all_topic_specs, ensure_topics


def _add_retention(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--retention-days",
        type=int,
        default=int(os.environ.get("SCANTRACE_RETENTION_DAYS") or DEFAULT_RETENTION_DAYS),
        help="retention of scans and visits; scans and declarations are kept 7 days more "
        "(default: $SCANTRACE_RETENTION_DAYS or %(default)s)",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("topics", help="create or list the Kafka topics")
    sub = parser.add_subparsers(dest="topics_command", metavar="ACTION", required=True)
    create = sub.add_parser(
        "create",
        help="create every missing topic and its .dlq twin",
        description="Create every topic of the registry that does not exist yet; existing ones are "
        "kept, with the retention of scans and declarations set to --retention-days + 7.",
    )
    create.add_argument(
        "--bootstrap",
        default=os.environ.get("SCANTRACE_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        help="Kafka bootstrap servers (default: $SCANTRACE_KAFKA_BOOTSTRAP or 127.0.0.1:9092)",
    )
    create.add_argument("--namespace", default=os.environ.get("SCANTRACE_NAMESPACE", ""))
    create.add_argument("--replication-factor", type=int, default=1)
    _add_retention(create)
    create.set_defaults(func=run_create)
    listing = sub.add_parser("list", help="print the topic registry")
    listing.add_argument("--namespace", default=os.environ.get("SCANTRACE_NAMESPACE", ""))
    _add_retention(listing)
    listing.set_defaults(func=run_list)


def run_create(args: argparse.Namespace) -> int:
    try:
        created = asyncio.run(
            ensure_topics(
                args.bootstrap,
                args.namespace,
                retention_days=args.retention_days,
                replication_factor=args.replication_factor,
            )
        )
    except Exception as exc:  # report any broker failure as one line with what to do next
        print(
            f"could not create topics on {args.bootstrap}: {exc}\n"
            "is the broker running? start it with `make run COMPONENTS=kafka`",
            file=sys.stderr,
        )
        return 1
    print(f"created {len(created)} topics" + (": " + ", ".join(created) if created else ""))
    return 0


def run_list(args: argparse.Namespace) -> int:
    for spec in all_topic_specs(args.namespace, retention_days=args.retention_days):
        configs = ",".join(f"{k}={v}" for k, v in sorted(spec.configs.items()))
        print(f"{spec.name:32} key={spec.key:10} partitions={spec.partitions:<3} {configs}")
    return 0
