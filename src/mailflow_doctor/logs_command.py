"""`mailflow-doctor logs sessions|summary`: the commands' work, and their quick path, no Typer.

A repeated query on a kept store answers in a fifth of a second, of which loading Typer took a
quarter. cli/logs.py declares the two commands for Typer and calls `run` with what Typer parsed;
launch.py calls `run` itself when `quick` reads the command line, which it does only for its
plain form: the commands' long options, each once, with a value that is not empty and does not
start with `-`, and paths that do not start with `-`. Anything else (help, short options, `--`,
an option Typer would refuse, a value it would check, any command line on Windows) is left to
Typer, so usage and errors have one source. tests/test_launch.py holds `quick`'s reading equal
to Typer's.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import NoReturn

from .console import EXIT_OK, EXIT_USAGE, emit, error, warn

_EVERY = {"--since": "since", "--until": "until", "--store": "store", "--instance": "instance",
          "--format": "fmt", "--output": "output"}
_OPTIONS = {"sessions": {**_EVERY, "--ip": "ip", "--range": "cidr"},
           "summary": {**_EVERY, "--by": "by"}}


def quick(args: list[str]) -> dict | None:
    """`run`'s arguments for `args` (what follows `logs`), or None: Typer must read them.
    Always None on Windows, where Typer expands wildcards, `~` and variables in arguments."""
    if not args or args[0] not in _OPTIONS or os.name == "nt":
        return None
    names = _OPTIONS[args[0]]
    found: dict = {"command": args[0]}
    paths: list[Path] = []
    rest = iter(args[1:])
    for arg in rest:
        if not arg.startswith("-"):
            paths.append(Path(arg))
            continue
        name, equals, value = arg.partition("=")
        key = names.get(name)
        if key is None or key in found:
            return None
        if not equals:
            value = next(rest, "")
        if not value or value.startswith("-"):
            return None
        found[key] = value
    from .knowledge.endpoints import INSTANCES
    from .report.logs import RENDERERS

    if found.get("instance", INSTANCES[0]) not in INSTANCES or \
            found.get("fmt", "text") not in RENDERERS[args[0]]:
        return None
    for key in ("store", "output"):
        if key in found:
            found[key] = Path(found[key])
    return {**found, "paths": paths}


def run(command: str, *, paths: list[Path], since: str | None = None, until: str | None = None,
        store: Path | None = None, instance: str = "worldwide", fmt: str = "text",
        output: Path | None = None, ip: str | None = None, cidr: str | None = None,
        by: str = "source-prefix") -> int:
    """Ask the logs and print the answer; the exit code. The store is opened first, on a thread
    (unless launch.py has already started it), so that the imports here overlap DuckDB's
    connect (see store.db.Opening)."""
    window = _window(since, until)
    if window is None:
        return EXIT_USAGE
    from .store.db import opening

    with opening(store) as opened:
        result = _ask(command, opened, paths, window, ip=ip, cidr=cidr, by=by,
                      instance=instance)
        if result is None:
            return EXIT_USAGE
        opened.close_behind()  # DuckDB closes while the report renders
        from .report.logs import RENDERERS

        warn(result.info.problems)
        text = RENDERERS[command][fmt](result)
        failed = opened.closed()
    written = emit(text, output)
    if failed is not None:  # the answer stands; the store may not have kept all it read
        error(str(failed))
    return EXIT_OK if written and failed is None else EXIT_USAGE


def _ask(command: str, opened, paths: list[Path], window: tuple, *, ip: str | None,
         cidr: str | None, by: str, instance: str):
    """The command's result from the store being opened, or None after saying why not."""
    from .progress import RichProgress
    from .store import run as queries

    since, until = window
    try:
        with RichProgress() as progress:
            if command == "sessions":
                eop = instance if (cidr or "").strip().lower() == "eop" else False
                return queries.run_sessions_query(
                    paths, opened, ip=ip, cidr=None if eop else cidr, eop=eop, since=since,
                    until=until, progress=progress)
            return queries.run_summary_query(paths, opened, by=by, instance=instance,
                                             since=since, until=until, progress=progress)
    except queries.QueryError as exc:
        error(str(exc))
        return None


def _window(since: str | None, until: str | None) -> tuple[datetime | None, ...] | None:
    """--since and --until as times, or None after saying which one is not a time."""
    from .evidence.timefmt import parse_time

    out = []
    for name, text in (("--since", since), ("--until", until)):
        value = parse_time(text) if text else None
        if text and value is None:
            error(f"{name} {text!r}: not a date and time (use e.g. 2026-11-27T08:00Z)")
            return None
        out.append(value)
    return tuple(out)


def answer(found: dict) -> NoReturn:
    """launch.py's quick path: `run(**found)`, then the end of the process, at once.

    By then the report is written and flushed and the store closed: Python's own teardown (of
    DuckDB's library, of every module) would take another ~20 ms, a tenth of a repeated query,
    for nothing. Ctrl-C and a closed pipe end it as Typer does: 130 silently, 1 quietly."""
    try:
        code = run(**found)  # console.write has flushed what it wrote
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:  # `... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    from .store.db import close_ahead

    close_ahead()  # an opening no command claimed (a bad --since): closed, not cut off
    os._exit(code)
