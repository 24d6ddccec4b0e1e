"""Route: an enterprise's production report (energy use, energy-computed, metered and verified
emissions per year or month), the report ``ets report production`` prints, from the read model.

The metered figures are the anchored batch totals the indexer keeps, the verified figures the
Active attestations; energy use is not on-chain and comes from the energy files of the state
directory (``<ETS_STATE_DIR>/sample/``: ``history.csv`` and ``monthly_energy.csv`` with the
``enterprises.csv`` that maps their ids to credit codes, as ``ets demo`` writes them) when they
are there. The arithmetic is :func:`chain.production.build_report`'s, so the API and the CLI
agree.
"""

from __future__ import annotations

import logging
from calendar import timegm
from collections.abc import Sequence
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.access import may_read
from api.deps import Db, User
from api.errors import ForbiddenError, NotFoundError
from api.schemas import ERRORS
from chain.allocation import EnterpriseHistory, load_history
from chain.anchoring import BatchAnchoredEvent, BatchTotal
from chain.config import ChainSettings
from chain.errors import ChainError, ConfigError
from chain.onboarding import read_credit_codes
from chain.production import (
    MonthlyEnergy,
    ProductionReport,
    Verified,
    build_report,
    enterprise_id_of,
    load_monthly_energy,
)
from chain.registry import checked_address
from domain.production import MAX_SPAN, MAX_YEAR, MIN_YEAR, TIME_ZONE, report_years
from domain.tokens import POLLUTANTS
from readmodel import models as m

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/production", tags=["production"])

#: Energy files looked for in the energy directory.
HISTORY_FILE, MONTHLY_FILE, ENTERPRISES_FILE = "history.csv", "monthly_energy.csv", "enterprises.csv"
#: A day's margin around the years asked for: months are Asia/Shanghai months, batches UTC times.
_MARGIN = 24 * 3600
_SYMBOL_OF = {code: symbol for symbol, code in POLLUTANTS.items()}


# ---------------------------------------------------------------------- models


class EnergyPublic(BaseModel):
    """Energy use of a period per carrier, in tonnes of standard coal equivalent and as CO2."""

    source: str = Field(description="annual (history), monthly (a month's row) or monthly sum")
    quantities: dict[str, float] = Field(description="Per carrier, in the units of `units.energy`")
    tce: dict[str, float] = Field(description="Per carrier, tonnes of standard coal equivalent")
    total_tce: float
    co2_by_carrier_t: dict[str, float]
    co2_t: float = Field(description="Energy-computed CO2 (t): quantity × emission factor")


class PollutantPublic(BaseModel):
    """A pollutant's computed, metered and verified emissions in one period."""

    pollutant: str = Field(examples=["CO2"], description="Allowance symbol, else the HJ 212 code")
    hj212_code: str = Field(examples=["a05001"])
    metered_t: float | None = Field(description="Anchored mass totals (t); None: no batch carried any")
    batches: int = Field(description="Batches carrying a mass total of it")
    computed_t: float | None = Field(description="Energy-computed emissions (CO2 only, t)")
    reported_t: float | None = Field(description="The history's reported figure (CO2 year rows, t)")
    verified_t: int | None = Field(description="Active attestation's verified emissions (year rows, t)")
    attestation_id: str | None
    auditor: str | None
    metered_vs_verified_pct: float | None
    computed_vs_verified_pct: float | None
    metered_vs_computed_pct: float | None


class FlowPublic(BaseModel):
    """A flow's anchored volume (flows are not emissions)."""

    hj212_code: str
    volume_m3: float
    batches: int


class PeriodPublic(BaseModel):
    """A year, or a month of it."""

    period: str = Field(examples=["2027", "2027-05"])
    year: int
    month: int | None
    energy: EnergyPublic | None
    energy_note: str | None = Field(description="Why energy is missing, when it is")
    batches: int
    readings: int
    pollutants: list[PollutantPublic]
    flows: list[FlowPublic]


class ProductionPublic(BaseModel):
    """An enterprise's production report (``ets report production``)."""

    enterprise: str
    enterprise_id: str | None = Field(description="Its id in the energy files, when they know it")
    years: list[int]
    by: Literal["year", "month"]
    time_zone: str = Field(description="Months are calendar months in this time zone")
    energy_files: bool = Field(description="Energy use was read from the energy files")
    units: dict[str, Any]
    coal_equivalent_tce_per_unit: dict[str, float]
    emission_factors_tco2_per_unit: dict[str, float]
    periods: list[PeriodPublic]


# ---------------------------------------------------------------------- data access


def energy_dir(request: Request) -> FsPath | None:
    """Where the energy files are, read once per app: ``<ETS_STATE_DIR>/sample`` (None when the
    settings are invalid)."""
    state = request.app.state
    if not hasattr(state, "production_energy_dir"):
        try:
            state.production_energy_dir = ChainSettings.load().state_dir / "sample"
        except ConfigError:
            logger.warning("chain settings invalid: production reports without energy files")
            state.production_energy_dir = None
    found = state.production_energy_dir
    return None if found is None else FsPath(found)


def _events(db: Session, enterprise: str, years: Sequence[int]) -> list[BatchAnchoredEvent]:
    """The enterprise's anchored batches that start in ``years`` (with a day's margin)."""
    b = m.Batch
    start, end = timegm((years[0], 1, 1, 0, 0, 0)) - _MARGIN, timegm((years[-1] + 1, 1, 1, 0, 0, 0)) + _MARGIN
    rows = db.execute(
        select(b).where(b.enterprise == enterprise, b.period_start >= start, b.period_start < end)
    ).scalars()
    return [
        BatchAnchoredEvent(
            batch_id=bytes.fromhex(r.batch_id.removeprefix("0x")), device=r.device, enterprise=r.enterprise,
            first_sequence=r.first_sequence, last_sequence=r.last_sequence,
            previous_sequence=r.previous_sequence, period_start=r.period_start, period_end=r.period_end,
            count=r.count, root=bytes.fromhex(r.root.removeprefix("0x")),
            totals=tuple(_total(t) for t in r.totals), block=r.block_number, log_index=0, tx_hash=r.tx_hash,
        )
        for r in rows
    ]  # fmt: skip


def _total(raw: dict[str, Any]) -> BatchTotal:
    def text(value: str) -> str:
        return bytes.fromhex(value.removeprefix("0x")).rstrip(b"\0").decode("ascii", "replace")

    return BatchTotal(text(raw["pollutant"]), text(raw["unit"]), int(raw["total"]), int(raw["decimals"]))


def _verified(db: Session, enterprise: str, years: Sequence[int]) -> list[Verified]:
    """The Active attestations of the enterprise in ``years`` (the latest per pollutant and year)."""
    a = m.Attestation
    rows = db.execute(
        select(a).where(a.enterprise == enterprise, a.year.in_(list(years)), a.status == "active")
        .order_by(a.submitted_time)
    ).scalars()  # fmt: skip
    return [
        Verified(
            _SYMBOL_OF.get(r.pollutant, str(r.pollutant)), r.year, r.verified, r.attestation_id, r.auditor
        )
        for r in rows
    ]


def _energy(
    directory: FsPath | None, address: str, credit_code: str
) -> tuple[str | None, EnterpriseHistory | None, list[MonthlyEnergy], bool]:
    """The enterprise's id, annual history and monthly energy rows from the energy files (none
    when the files or the enterprise are not there)."""
    if directory is None or not (directory / ENTERPRISES_FILE).is_file():
        return None, None, [], False
    codes_path, history_path, monthly_path = (
        directory / n for n in (ENTERPRISES_FILE, HISTORY_FILE, MONTHLY_FILE)
    )
    try:
        enterprise_id = enterprise_id_of(credit_code, read_credit_codes(codes_path))
        history = None
        if history_path.is_file():
            found = [h for h in load_history(history_path, enterprises_path=codes_path)
                     if h.enterprise_id == enterprise_id]  # fmt: skip
            history = found[0] if found else None
        rows = load_monthly_energy(monthly_path) if monthly_path.is_file() else []
        monthly = [r for r in rows if r.matches(address, enterprise_id)]
    except (ChainError, OSError, ValueError):
        logger.warning("energy files unreadable: production report without energy",
                       extra={"directory": str(directory)})  # fmt: skip
        return None, None, [], False
    return enterprise_id, history, monthly, history is not None or bool(monthly)


def production_report(
    db: Session, *, enterprise: str, year: int, to_year: int | None, by: str, directory: FsPath | None
) -> tuple[ProductionReport, bool]:
    """The production report of a registered enterprise, and whether energy files were read.

    Raises:
        NotFoundError: not a registered enterprise.
        InvalidInputError: years out of range or over :data:`domain.production.MAX_SPAN`.
    """
    years = report_years(year, to_year)
    participant = db.get(m.Participant, enterprise)
    if participant is None or participant.credit_code is None:
        raise NotFoundError(f"{enterprise} is not a registered enterprise")
    enterprise_id, history, monthly, from_files = _energy(directory, enterprise, participant.credit_code)
    events, verified = _events(db, enterprise, years), _verified(db, enterprise, years)
    report = build_report(
        enterprise, years[0], to_year=years[-1], by=by, events=events, history=history, monthly=monthly,
        verified=verified, enterprise_id=enterprise_id,
    )  # fmt: skip
    return report, from_files


# ---------------------------------------------------------------------- route

Enterprise = Annotated[
    str,
    Path(pattern=r"^0x[0-9a-fA-F]{40}$", description="The enterprise's account",
         examples=["0x976EA74026E726554dB657fA54763abd0C3a0aa9"]),
]  # fmt: skip


@router.get("/{enterprise}", response_model=ProductionPublic, responses=ERRORS)
def production(
    request: Request,
    user: User,
    db: Db,
    enterprise: Enterprise,
    year: Annotated[int, Query(ge=MIN_YEAR, le=MAX_YEAR, description="First (or only) year")],
    to_year: Annotated[
        int | None, Query(ge=MIN_YEAR, le=MAX_YEAR, description=f"Last year (≤ {MAX_SPAN} years)")
    ] = None,
    by: Annotated[Literal["year", "month"], Query(description="Years, or each month then its year")] = "year",
) -> ProductionPublic:
    """An enterprise's energy use, energy-computed CO2, metered (anchored) emissions and the
    verified figures of its Active attestations, with their differences in percent. Regulators
    and the exchange: any enterprise; an enterprise: its own; an auditor: the enterprises the
    regulator assigned it."""
    address = checked_address(enterprise, "enterprise")
    if not may_read(db, user, address):
        raise ForbiddenError(f"{user.address} may not read the production report of {address}")
    report, from_files = production_report(db, enterprise=address, year=year, to_year=to_year, by=by,
                                           directory=energy_dir(request))  # fmt: skip
    return ProductionPublic.model_validate({**report.to_json(), "energy_files": from_files,
                                            "time_zone": str(TIME_ZONE)})  # fmt: skip
