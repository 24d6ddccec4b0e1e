"""The statistics totals (``stat_totals``) derived from the per-enterprise rollups: as deltas of
an indexer page, and rebuilt from the rollups (a migration, an energy import that replaces
months)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, select

from readmodel import models as m
from readmodel.bulk import upsert

#: (grain, metric, pollutant, period, enterprise) — a rollup's key.
RollupKey = tuple[str, str, int, str, str]
#: (grain, metric, dim, pollutant, period, key) — a total's key.
TotalKey = tuple[str, str, str, int, str, str]


def region_key(code: int | None) -> str:
    """The ``key`` of a region's totals: its six-digit GB/T 2260 code ('' for none)."""
    return "" if code is None else f"{code:06d}"


def derive_totals(rollups: Mapping[RollupKey, Sequence[Any]]) -> list[dict[str, Any]]:
    """The totals' deltas of rollup deltas ``{key: [value, count, region_code, industry_code]}``:
    each rollup adds to its period's total over all enterprises, its region's, its industry's
    (each for its pollutant and for all pollutants, -1) and its enterprise's over all pollutants."""
    every = m.ALL_POLLUTANTS
    sums: dict[TotalKey, list[Any]] = {}
    get = sums.get
    for (grain, metric, pollutant, period, who), (value, count, region, industry) in rollups.items():
        region_k, industry_k = region_key(region), industry or ""
        for key in (
            (grain, metric, "all", pollutant, period, ""),
            (grain, metric, "all", every, period, ""),
            (grain, metric, "region", pollutant, period, region_k),
            (grain, metric, "region", every, period, region_k),
            (grain, metric, "industry", pollutant, period, industry_k),
            (grain, metric, "industry", every, period, industry_k),
            (grain, metric, "enterprise", every, period, who),
        ):
            found = get(key)
            if found is None:
                sums[key] = [value, count]
            else:
                found[0] += value
                found[1] += count
    return [
        {
            "grain": grain,
            "metric": metric,
            "dim": dim,
            "pollutant": pollutant,
            "period": period,
            "key": key,
            "value": value,
            "count": count,
            "region_code": int(key) if dim == "region" and key else None,
            "industry_code": (key or None) if dim == "industry" else None,
            "enterprise": key if dim == "enterprise" else None,
        }
        for (grain, metric, dim, pollutant, period, key), (value, count) in sums.items()
    ]


def rebuild_totals(
    conn: Connection, *, metric: str | None = None, periods: Iterable[str] | None = None
) -> int:
    """Recompute the totals from the rollups: all of them, or those of ``metric`` (and
    ``periods``, any grain) only. Returns the totals written.

    Reads the rollups (one row per key: their primary key) and adds their totals in chunks.
    """
    r = m.StatRollup
    t = m.StatTotal
    where: list[Any] = []
    if metric is not None:
        where.append(r.metric == metric)
    wanted = None if periods is None else sorted(set(periods))
    if wanted is not None:
        if not wanted:
            return 0
        where.append(r.period.in_(wanted))
    drop = delete(t)
    if metric is not None:
        drop = drop.where(t.metric == metric)
    if wanted is not None:
        drop = drop.where(t.period.in_(wanted))
    conn.execute(drop)
    stmt = select(
        r.grain,
        r.metric,
        r.pollutant,
        r.period,
        r.enterprise,
        r.value,
        r.count,
        r.region_code,
        r.industry_code,
    ).where(*where)
    written = 0
    chunk: dict[RollupKey, list[Any]] = {}
    for grain, met, pollutant, period, who, *sums in conn.execute(stmt):
        chunk[(grain, met, int(pollutant), period, who)] = sums
        if len(chunk) >= 50_000:
            written += _add(conn, derive_totals(chunk))
            chunk.clear()
    return written + _add(conn, derive_totals(chunk))


def _add(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Add total deltas to the stored totals (a chunk's may meet earlier chunks': same period,
    other enterprises); returns the rows sent."""
    upsert(conn, m.StatTotal, rows, TOTAL_KEY, add=("value", "count"))
    return len(rows)


#: Primary key columns of ``stat_totals``.
TOTAL_KEY = ("grain", "metric", "dim", "pollutant", "period", "key")
