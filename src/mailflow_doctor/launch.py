"""The `mailflow-doctor` command: starts opening a kept case store, then runs the command.

A repeated `logs sessions|summary --store FILE` answers in a fifth of a second or less, of which
DuckDB's connect is ~40 ms of C++ that lets Python run: started here, it overlaps the imports
instead of following them. The look at the arguments is only a hint: the command claims the
opening only when it asks for that same store (store.db.opening). Typer's loading (~50 ms) is
skipped for the plain form of those two commands (logs_command.quick), and any other
`logs ...` gets an app with only that group.
"""

from __future__ import annotations

import gc
import sys

_QUERIES = ("sessions", "summary")


def store_asked(args: list[str]) -> str | None:
    """The `--store` of a `logs sessions|summary` command line (the last one, as the parser
    takes it), or None; None too when help is asked for, which opens nothing."""
    if args[:1] != ["logs"] or len(args) < 2 or args[1] not in _QUERIES or \
            "--help" in args or "-h" in args:
        return None
    found = None
    for i, arg in enumerate(args[2:], 2):
        if arg == "--":
            break
        if arg == "--store" and i + 1 < len(args):
            found = args[i + 1]
        elif arg.startswith("--store="):
            found = arg[len("--store="):]
    return found or None


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["logs"]:
        # The cycle collector ran ~35 times in a repeated query (~8 ms) and found no garbage
        # among the modules and sessions it walked: now rarely, not never, as the first query
        # of a case may read logs for minutes.
        gc.set_threshold(100_000)
    store = store_asked(args)
    if store is not None:
        from .store.db import open_ahead

        open_ahead(store)
    if args[:1] == ["logs"]:
        from .logs_command import answer, quick

        found = quick(args[1:])
        if found is not None:
            answer(found)
        app = logs_only_app()
    else:
        from .cli.app import app
    app()


def logs_only_app():
    """The app with only its `logs` group: building every command's options would cost a
    repeated query ~15 ms."""
    from .cli import root
    from .cli.logs import logs_app as group

    app = root()
    app.add_typer(group, name="logs")
    return app
