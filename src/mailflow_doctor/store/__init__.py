"""The DuckDB case store for large SMTP protocol logs (see db.py for why it exists).

    with open_store("case.duckdb") as store:      # or open_store() for a temporary one
        register(store, ["logs/"])               # which files, which of them changed
        sessions = load_sessions(store, since, until, eop_prefixes)  # reads what it needs

Reading code (DuckDB's CSV reader, the Python reader as fallback) is imported only when a file
has to be read, so a query on a built store starts fast.
"""

from .db import CaseStore, StoreError, open_store
from .files import Registration, register
from .load import load_sessions, problems, query_sessions

__all__ = ["CaseStore", "Registration", "StoreError", "ingest", "load_sessions", "open_store",
           "problems", "query_sessions", "register"]


def ingest(store, since=None, until=None, progress=None):
    """Read the pending files of the store's scope for [since, until] (see ingestion.ingest)."""
    from .pending import ingest as run

    return run(store, since, until, progress)
