"""`python -m mailflow_doctor.store sessions|summary ...`: the `logs` commands without the CLI.

The same calls as `mailflow-doctor logs ...` with only the imports they need, so benchmarks
time the query and not the start-up of every other command. Exit codes follow the CLI.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mailflow_doctor.store")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("sessions", "summary"):
        p = sub.add_parser(name)
        p.add_argument("paths", nargs="*")
        p.add_argument("--store")
        p.add_argument("--since", type=_time)
        p.add_argument("--until", type=_time)
        p.add_argument("--format", choices=("text", "json"), default="text")
        p.add_argument("--instance", default="worldwide")
        p.add_argument("--progress", action="store_true", help="Rich progress bar on stderr")
        if name == "sessions":
            p.add_argument("--ip")
            p.add_argument("--range", dest="cidr", help="a CIDR, or `eop`")
        else:
            p.add_argument("--by", default="source-prefix")
    args = parser.parse_args(argv)

    from .db import Opening

    with Opening(args.store) as store:  # first: the imports below overlap DuckDB's connect
        from ..report.logs import RENDERERS
        from .run import QueryError, run_sessions_query, run_summary_query

        progress = None
        if args.progress:
            from ..progress import RichProgress

            progress = RichProgress().__enter__()
        try:
            if args.command == "sessions":
                eop = args.instance if (args.cidr or "").lower() == "eop" else False
                result = run_sessions_query(args.paths, store, ip=args.ip,
                                            cidr=None if eop else args.cidr, eop=eop,
                                            since=args.since, until=args.until,
                                            progress=progress)
            else:
                result = run_summary_query(args.paths, store, by=args.by,
                                           instance=args.instance, since=args.since,
                                           until=args.until, progress=progress)
        except QueryError as exc:
            print(f"mailflow-doctor: {exc}", file=sys.stderr)
            return 2
        finally:
            if progress is not None:
                progress.__exit__(None, None, None)
    sys.stdout.write(RENDERERS[args.command][args.format](result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
