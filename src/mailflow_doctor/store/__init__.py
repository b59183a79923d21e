"""The DuckDB case store for large SMTP protocol logs (see db.py for why it exists).

    with open_store("case.duckdb") as store:      # or open_store() for a temporary one
        register(store, ["logs/"])               # which files, which of them changed
        sessions = load_sessions(store, since, until, eop_prefixes)  # reads what it needs

Reading code (DuckDB's CSV reader, the Python reader as fallback) is imported only when a file
has to be read, so a query on a built store starts fast. The names below load their module on
first use for the same reason: a query opens its store on a thread (db.Opening) while the
models and readers are still being imported.
"""

__all__ = ["CaseStore", "Registration", "StoreError", "ingest", "load_sessions", "open_store",
           "problems", "query_sessions", "register"]

_MODULE_OF = {"CaseStore": "db", "StoreError": "db", "open_store": "db",
              "Registration": "files", "register": "files",
              "load_sessions": "load", "problems": "load", "query_sessions": "load"}


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{module}"), name)


def ingest(store, since=None, until=None, progress=None):
    """Read the pending files of the store's scope for [since, until] (see ingestion.ingest)."""
    from .pending import ingest as run

    return run(store, since, until, progress)
