"""Inserting Python rows into DuckDB in one statement per chunk.

`executemany` runs one statement per row (about a millisecond each); a chunk of rows in one
`VALUES` list costs about the same as a single row.
"""

from __future__ import annotations

CHUNK = 500


def insert_rows(con, table: str, rows: list[list]) -> None:
    """INSERT the rows into `table` (a name, optionally with its column list)."""
    if not rows:
        return
    width = len(rows[0])
    one = "(" + ", ".join(["?"] * width) + ")"
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        con.execute(f"INSERT INTO {table} VALUES {', '.join([one] * len(chunk))}",
                    [value for row in chunk for value in row])
