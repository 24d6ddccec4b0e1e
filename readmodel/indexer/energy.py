"""Energy use into the statistics rollups: a monthly energy file (``chain.production``'s format)
becomes ``energy_tce`` rows (month and year grains, pollutant 0), converted to tonnes of
standard coal equivalent with the GB/T 2589 factors of :data:`domain.production.COAL_EQUIVALENT`.

Energy use is not on-chain, so these rows come from files rather than events: a read model
rebuilt from the event log needs the files imported again.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select

from chain.production import MonthlyEnergy, load_monthly_energy
from domain.production import COAL_EQUIVALENT
from readmodel import models as m
from readmodel.totals import rebuild_totals

logger = logging.getLogger(__name__)

METRIC: Final = "energy_tce"
#: Enterprises per ``IN (...)`` list when reading months back.
_CHUNK: Final = 500


@dataclass(frozen=True, slots=True)
class EnergyImport:
    """What an import wrote.

    Attributes:
        rows: rows in the file.
        imported: rows written (as month rollups).
        enterprises: enterprises the written rows belong to.
        years: (enterprise, year) totals recomputed.
        unmatched: enterprise ids or addresses of the file that name no registered enterprise
            (their rows are skipped).
    """

    rows: int
    imported: int
    enterprises: int
    years: int
    unmatched: tuple[str, ...]


def tce_of(quantities: Mapping[str, float]) -> float:
    """Tonnes of standard coal equivalent of carrier quantities (units of ``CARRIER_UNITS``)."""
    return math.fsum(float(quantities.get(c, 0.0)) * f for c, f in COAL_EQUIVALENT.items())


def _profiles(conn: Connection) -> tuple[dict[str, tuple[str, Any, Any]], dict[str, tuple[str, Any, Any]]]:
    """Registered enterprises by lower-case address and by credit code: (address, region, industry)."""
    by_address: dict[str, tuple[str, Any, Any]] = {}
    by_code: dict[str, tuple[str, Any, Any]] = {}
    p = m.Participant
    rows = conn.execute(
        select(p.address, p.credit_code, p.region_code, p.industry_code).where(p.credit_code.is_not(None))
    )
    for address, code, region, industry in rows:
        profile = (address, region, industry)
        by_address[address.lower()] = profile
        by_code[str(code)] = profile
    return by_address, by_code


def import_energy(
    engine: Engine, csv_path: str | Path, *, credit_codes: Mapping[str, str] | None = None
) -> EnergyImport:
    """Load a monthly energy file into the ``energy_tce`` rollups, in one transaction.

    Rows name an enterprise by ``address`` or by ``enterprise_id``; an id is mapped to a credit
    code through ``credit_codes`` (enterprise_id -> credit_code, as
    :func:`chain.onboarding.read_credit_codes` reads from a sample's enterprises.csv; without an
    entry the id is taken as the credit code) and the credit code to the registered account.
    Region and industry are the enterprise's current profile.

    Idempotent: the file's months of its enterprises replace whatever those rows held, and the
    year rows of the years touched are recomputed from all month rows in the read model (so
    files that each hold some months of a year add up).

    Args:
        engine: the read model (migrated, enterprises indexed).
        csv_path: a monthly energy file (:func:`chain.production.load_monthly_energy`).
        credit_codes: enterprise_id -> credit_code.

    Returns:
        What was written; rows of unregistered enterprises are counted in ``unmatched``.

    Raises:
        InvalidInputError: the file is malformed (every problem listed with its line).
    """
    rows = load_monthly_energy(csv_path)
    codes = credit_codes or {}
    with engine.begin() as conn:
        by_address, by_code = _profiles(conn)
        month_rows: list[dict[str, Any]] = []
        unmatched: set[str] = set()
        for row in rows:
            profile = _resolve(row, by_address, by_code, codes)
            if profile is None:
                unmatched.add(row.address or row.enterprise_id or "?")
                continue
            address, region, industry = profile
            month_rows.append(
                {
                    "grain": "month",
                    "metric": METRIC,
                    "pollutant": 0,
                    "period": f"{row.year:04d}-{row.month:02d}",
                    "enterprise": address,
                    "region_code": region,
                    "industry_code": industry,
                    "value": tce_of(row.quantities),
                    "count": 1,
                }
            )
        r = m.StatRollup
        if month_rows:
            conn.execute(
                delete(r).where(
                    r.grain == "month",
                    r.metric == METRIC,
                    r.pollutant == 0,
                    r.enterprise == bindparam("who"),
                    r.period == bindparam("when"),
                ),
                [{"who": x["enterprise"], "when": x["period"]} for x in month_rows],
            )
            conn.execute(insert(r), month_rows)
        years = _recompute_years(conn, {(x["enterprise"], x["period"][:4]) for x in month_rows}, by_address)
        months = {x["period"] for x in month_rows}
        rebuild_totals(conn, metric=METRIC, periods=months | {p[:4] for p in months})
    result = EnergyImport(
        rows=len(rows),
        imported=len(month_rows),
        enterprises=len({x["enterprise"] for x in month_rows}),
        years=years,
        unmatched=tuple(sorted(unmatched)),
    )
    if unmatched:
        logger.warning(
            "energy rows of unregistered enterprises skipped",
            extra={"path": str(csv_path), "unmatched": len(unmatched)},
        )
    logger.info(
        "monthly energy imported",
        extra={"path": str(csv_path), "rows": result.imported, "enterprises": result.enterprises},
    )
    return result


def _resolve(
    row: MonthlyEnergy,
    by_address: Mapping[str, tuple[str, Any, Any]],
    by_code: Mapping[str, tuple[str, Any, Any]],
    codes: Mapping[str, str],
) -> tuple[str, Any, Any] | None:
    if row.address is not None:
        found = by_address.get(row.address.lower())
        if found is not None:
            return found
    if row.enterprise_id is not None:
        return by_code.get(codes.get(row.enterprise_id, row.enterprise_id))
    return None


def _recompute_years(
    conn: Connection, touched: Iterable[tuple[str, str]], by_address: Mapping[str, tuple[str, Any, Any]]
) -> int:
    """Replace the year rows of (enterprise, year) pairs with the sums of their month rows."""
    pairs = set(touched)
    if not pairs:
        return 0
    r = m.StatRollup
    enterprises = sorted({e for e, _ in pairs})
    totals: list[dict[str, Any]] = []
    for start in range(0, len(enterprises), _CHUNK):
        chunk = enterprises[start : start + _CHUNK]
        year = func.substr(r.period, 1, 4)
        stmt = (
            select(r.enterprise, year, func.sum(r.value), func.sum(r.count))
            .where(r.grain == "month", r.metric == METRIC, r.pollutant == 0, r.enterprise.in_(chunk))
            .group_by(r.enterprise, year)
        )
        for who, period, value, count in conn.execute(stmt):
            if (who, period) not in pairs:
                continue
            _, region, industry = by_address[who.lower()]
            totals.append(
                {
                    "grain": "year",
                    "metric": METRIC,
                    "pollutant": 0,
                    "period": period,
                    "enterprise": who,
                    "region_code": region,
                    "industry_code": industry,
                    "value": float(value),
                    "count": int(count),
                }
            )
    conn.execute(
        delete(r).where(
            r.grain == "year",
            r.metric == METRIC,
            r.pollutant == 0,
            r.enterprise == bindparam("who"),
            r.period == bindparam("when"),
        ),
        [{"who": who, "when": period} for who, period in sorted(pairs)],
    )
    if totals:
        conn.execute(insert(r), totals)
    return len(totals)
