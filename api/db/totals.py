"""The statistics totals (``stat_totals``) derived from the per-enterprise rollups: as deltas of
an indexer page, and rebuilt from the rollups (a migration, an energy import that replaces
months)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, select

from api.db import models as m
from api.db.bulk import upsert

#: (grain, metric, pollutant, period, enterprise) — a rollup's key.
RollupKey = tuple[str, str, int, str, str]
#: (grain, metric, dim, pollutant, period, key) — a total's key.
TotalKey = tuple[str, str, str, int, str, str]


def region_key(code: int | None) -> str:
    """The ``key`` of a region's totals: its six-digit GB/T 2260 code ('' for none)."""
    return "" if code is None else f"{code:06d}"


def _targets(
    grain: str, metric: str, pollutant: int, period: str, who: str, region: int | None, industry: str | None
) -> Iterable[tuple[TotalKey, int | None, str | None, str | None]]:
    """The totals one rollup row adds to, each with its typed region / industry / enterprise."""
    for p in (pollutant, m.ALL_POLLUTANTS):
        yield (grain, metric, "all", p, period, ""), None, None, None
        yield (grain, metric, "region", p, period, region_key(region)), region, None, None
        yield (grain, metric, "industry", p, period, industry or ""), None, industry, None
    yield (grain, metric, "enterprise", m.ALL_POLLUTANTS, period, who), None, None, who


def derive_totals(rollups: Mapping[RollupKey, Sequence[Any]]) -> list[dict[str, Any]]:
    """The totals' deltas of rollup deltas ``{key: [value, count, region_code, industry_code]}``."""
    out: dict[TotalKey, dict[str, Any]] = {}
    for (grain, metric, pollutant, period, who), (value, count, region, industry) in rollups.items():
        for key, region_code, industry_code, enterprise in _targets(
            grain, metric, pollutant, period, who, region, industry
        ):
            row = out.get(key)
            if row is None:
                out[key] = {
                    "grain": key[0], "metric": key[1], "dim": key[2], "pollutant": key[3],
                    "period": key[4], "key": key[5], "region_code": region_code,
                    "industry_code": industry_code, "enterprise": enterprise,
                    "value": value, "count": count,
                }  # fmt: skip
            else:
                row["value"] += value
                row["count"] += count
    return list(out.values())


def rebuild_totals(
    conn: Connection, *, metric: str | None = None, periods: Iterable[str] | None = None
) -> int:
    """Recompute the totals from the rollups: all of them, or those of ``metric`` (and
    ``periods``, any grain) only. Returns the totals written.

    Reads the rollups grouped in SQL (one row per rollup key at most) and writes in chunks.
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
        r.grain, r.metric, r.pollutant, r.period, r.enterprise, r.region_code, r.industry_code,
        func.sum(r.value), func.sum(r.count),
    ).where(*where).group_by(
        r.grain, r.metric, r.pollutant, r.period, r.enterprise, r.region_code, r.industry_code
    )  # fmt: skip
    written = 0
    chunk: dict[RollupKey, list[Any]] = {}

    def flush() -> int:
        rows = derive_totals(chunk)
        chunk.clear()
        # a chunk's totals may meet the previous chunks' (same period, other enterprises): add
        return _add(conn, rows)

    for grain, met, pollutant, period, who, region, industry, value, count in conn.execute(stmt):
        key = (grain, met, int(pollutant), period, who)
        found = chunk.get(key)
        if found is None:
            chunk[key] = [float(value), int(count), region, industry]
        else:  # one enterprise's row under two regions cannot happen (one key), but stay exact
            found[0] += float(value)
            found[1] += int(count)
        if len(chunk) >= 50_000:
            written += flush()
    if chunk:
        written += flush()
    return written


def _add(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Upsert total deltas (add value and count to existing totals)."""
    if not rows:
        return 0
    upsert(conn, m.StatTotal, rows, TOTAL_KEY, add=("value", "count"))
    return len(rows)


#: Primary key columns of ``stat_totals``.
TOTAL_KEY = ("grain", "metric", "dim", "pollutant", "period", "key")
