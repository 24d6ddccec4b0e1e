"""Bulk writes of the read model: many-row inserts and upserts, with ``COPY`` on PostgreSQL
(where an ``executemany`` sends one statement a row)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import JSON, Connection, Table, insert
from sqlalchemy.dialects import postgresql, sqlite

from readmodel import models as m
from readmodel.errors import ReadModelError


def bulk_insert(conn: Connection, model: type[m.Base], rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows: ``COPY`` on PostgreSQL (an ``executemany`` there sends one statement a
    row), ``executemany`` on SQLite (already one prepared statement for all)."""
    if not rows:
        return
    table = cast(Table, model.__table__)
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), list(rows))
        return
    _copy(conn.connection.dbapi_connection.cursor(), table, table.name, rows)  # type: ignore[union-attr]


def _copy(cursor: Any, table: Table, target: str, rows: Sequence[dict[str, Any]]) -> list[str]:
    """``COPY`` ``rows`` (shaped as ``table``'s) into ``target``; returns the columns written."""
    columns = [c.name for c in table.columns if c.name in rows[0]]
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    with cursor.copy(f"COPY {target} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([json.dumps(row[c]) if c in json_columns else row[c] for c in columns])
    return columns


def _copy_upsert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str],
                 add: Sequence[str], replace: Sequence[str]) -> None:  # fmt: skip
    """PostgreSQL upsert of many rows: ``COPY`` into a temporary table, then one
    ``INSERT .. SELECT .. ON CONFLICT`` (a multi-row VALUES statement costs more to build and
    parse than the upsert itself)."""
    temp = f"tmp_{table.name}"
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {temp} (LIKE {table.name} INCLUDING DEFAULTS) "
                   "ON COMMIT DELETE ROWS")  # fmt: skip
    columns = _copy(cursor, table, temp, rows)
    sets = [f"{c} = {table.name}.{c} + EXCLUDED.{c}" for c in add] + [f"{c} = EXCLUDED.{c}" for c in replace]
    action = f"DO UPDATE SET {', '.join(sets)}" if sets else "DO NOTHING"
    names = ", ".join(columns)
    cursor.execute(f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {temp} "
                   f"ON CONFLICT ({', '.join(keys)}) {action}")  # fmt: skip
    cursor.execute(f"DELETE FROM {temp}")


def upsert(
    conn: Connection,
    model: type[m.Base],
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    add: Sequence[str] = (),
    replace: Sequence[str] = (),
) -> None:
    """Insert ``rows`` into ``model``'s table; on a key conflict add the ``add`` columns to the
    stored ones and overwrite the ``replace`` columns."""
    if not rows:
        return
    table = cast(Table, model.__table__)
    dialect = conn.dialect.name
    if dialect == "postgresql" and len(rows) > 20:
        _copy_upsert(conn, table, rows, keys, add, replace)
        return
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table)
    else:  # pragma: no cover - other databases are not supported
        raise ReadModelError(f"unsupported database {dialect}")
    excluded = stmt.excluded
    values = {c: table.c[c] + excluded[c] for c in add} | {c: excluded[c] for c in replace}
    if values:
        stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=values)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    conn.execute(stmt, list(rows))
