"""A Rich progress bar on stderr for long work (fetches, reading logs into the case store).

The bar starts at the first report, so a run with nothing long to do neither imports Rich's
progress machinery nor draws anything; the report itself goes to stdout or a file.
"""

from __future__ import annotations

from typing import Self


class RichProgress:
    """`on_progress(done, total, what)` as one Rich bar per `what`; use as a context manager."""

    def __init__(self) -> None:
        self._bar = None
        self._tasks: dict[str, int] = {}

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def __call__(self, done: int, total: int | None, what: str) -> None:
        if self._bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            console = Console(stderr=True)
            self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), console=console, transient=True,
                                 disable=not console.is_terminal)  # a pipe or a log: no bar
            self._bar.start()
        if what not in self._tasks:
            self._tasks[what] = self._bar.add_task(what, total=total)
        self._bar.update(self._tasks[what], completed=done, total=total)
