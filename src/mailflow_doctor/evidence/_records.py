"""Building a million frozen records cheaply: drafts, and the cycle collector paused.

Readers of large inputs (the extended trace report, deny logs, the reason strings inside them)
make a record per row. A frozen dataclass's __init__ sets each field with object.__setattr__,
which for a narrow row costs more than reading it; so a reader fills a draft (a class with the
record's layout) with plain stores and then gives it the record's class. Equality, hashing and
repr are then the record's own: tests compare drafted records with constructed ones.

While a reader builds, Python's cycle collector is paused: records hold no reference cycles, so
each full collection would only walk every record made so far and free nothing.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def draft_of(record: type) -> type:
    """A class whose instances take plain stores and may then be given `record` as their class:
    the same __slots__ for a slots dataclass, an instance dict like the record's otherwise."""
    slots = record.__dict__.get("__slots__")
    return type(f"{record.__name__}Draft", (), {} if slots is None else {"__slots__": slots})


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Build records without the cycle collector running in between (see the module's note).

    Objects are still freed by reference counting, and the collector's state is restored.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
