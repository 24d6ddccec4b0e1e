"""Routes: an enterprise's daily and monthly account statements from the settled reports (balances,
movements by type including trades and fees, cash, fines), as JSON and as CSV or PDF downloads.
An enterprise reads its own; the exchange and the regulator any account's; an auditor those the
regulator assigned it (:func:`api.access.check_account`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.access import check_account
from api.deps import Ctx, Db, Principal, User
from api.schemas import ERRORS
from domain.statements import Statement, StatementLine
from domain.tokens import token_label
from settlement.statements import read_daily, read_monthly, settled_days, statement_csv, statement_pdf

router = APIRouter(prefix="/statements", tags=["statements"])

AccountPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$", description="The enterprise's account")]
DayPath = Annotated[date, Path(description="Settled trading day, YYYY-MM-DD")]
MonthPath = Annotated[str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="Month, YYYY-MM")]
Format = Annotated[Literal["csv", "pdf"], Query(alias="format", description="csv or pdf")]

_MEDIA = {"csv": "text/csv", "pdf": "application/pdf"}
_DOWNLOAD = {
    **ERRORS,
    200: {
        "description": "The statement as a file (CSV: one row per id, the settlement report's columns)",
        "content": {"text/csv": {}, "application/pdf": {}},
    },
}


class LinePublic(BaseModel):
    """One id of a statement (token_id 0: settlement cash, in fen)."""

    token_id: int
    token: str = Field(description="The id's label")
    opening: int
    closing: int
    inflows: dict[str, int] = Field(description="In by movement type")
    outflows: dict[str, int] = Field(description="Out by movement type")
    freeze_events: int
    fee: int = Field(description="Exchange fees on this line (fen)")
    frozen: bool


class TypeTotalPublic(BaseModel):
    """A movement type over the period: allowance units (all ids) and cash (fen)."""

    movement: str
    units_in: int
    units_out: int
    cash_in: int
    cash_out: int


class StatementPublic(BaseModel):
    """An account's daily or monthly statement."""

    account: str
    period: Literal["daily", "monthly"]
    label: str = Field(description="YYYY-MM-DD or YYYY-MM")
    days: list[date] = Field(description="The settled days it covers")
    report_hashes: list[str] = Field(description="Each day's report hash (anchored on SettlementReports)")
    lines: list[LinePublic]
    by_type: list[TypeTotalPublic] = Field(description="Movements by type: trades, fees, cash, fines ...")
    cash_opening: int | None = Field(description="Settlement cash at the start (fen)")
    cash_closing: int | None = Field(description="Settlement cash at the end (fen)")
    fees: int = Field(description="Exchange fees charged (fen)")
    fines: int = Field(description="Penalties paid in cash (fen)")


class StatementDaysPublic(BaseModel):
    """The settled days and months an account's statements exist for, oldest first."""

    days: list[date]
    months: list[str]


def _line(x: StatementLine) -> LinePublic:
    return LinePublic(
        token_id=x.token_id, token=token_label(x.token_id), opening=x.opening, closing=x.closing,
        inflows=dict(x.inflows), outflows=dict(x.outflows), freeze_events=x.freeze_events, fee=x.fee,
        frozen=x.frozen,
    )  # fmt: skip


def _public(s: Statement) -> StatementPublic:
    cash = s.cash
    return StatementPublic(
        account=s.account, period=s.period, label=s.label, days=list(s.days),
        report_hashes=list(s.report_hashes), lines=[_line(x) for x in s.lines],
        by_type=[TypeTotalPublic(**vars(t)) for t in s.by_type()],
        cash_opening=None if cash is None else cash.opening,
        cash_closing=None if cash is None else cash.closing, fees=s.fees, fines=s.fines,
    )  # fmt: skip


def _check(db: Session, user: Principal, account: str) -> None:
    check_account(db, user, account, "statements")


def _file(s: Statement, fmt: str) -> Response:
    data = statement_csv(s) if fmt == "csv" else statement_pdf(s)
    name = f"statement-{s.period}-{s.account}-{s.label}.{fmt}"
    return Response(
        data, media_type=_MEDIA[fmt], headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get("/{account}/days", response_model=StatementDaysPublic, responses=ERRORS)
async def days(account: AccountPath, ctx: Ctx, db: Db, user: User) -> StatementDaysPublic:
    """The settled days (and their months) statements can be read for."""
    _check(db, user, account)
    found = await run_in_threadpool(settled_days, ctx.settings.reports())
    return StatementDaysPublic(days=found, months=sorted({d.isoformat()[:7] for d in found}))


@router.get("/{account}/daily/{day}", response_model=StatementPublic, responses=ERRORS)
async def daily(account: AccountPath, day: DayPath, ctx: Ctx, db: Db, user: User) -> StatementPublic:
    """The account's statement of a settled day: its lines of the day's settlement report (404
    `StatementNotSettledError` when the day is not settled)."""
    _check(db, user, account)
    return _public(await run_in_threadpool(read_daily, ctx.settings.reports(), day, account))


@router.get("/{account}/daily/{day}/download", response_class=Response, responses=_DOWNLOAD)
async def daily_file(
    account: AccountPath, day: DayPath, ctx: Ctx, db: Db, user: User, fmt: Format = "csv"
) -> Response:
    """The daily statement as CSV or PDF."""
    _check(db, user, account)
    return _file(await run_in_threadpool(read_daily, ctx.settings.reports(), day, account), fmt)


@router.get("/{account}/monthly/{month}", response_model=StatementPublic, responses=ERRORS)
async def monthly(account: AccountPath, month: MonthPath, ctx: Ctx, db: Db, user: User) -> StatementPublic:
    """The account's statement of a month: the month's daily statements aggregated
    (`domain.statements.monthly_statement`)."""
    _check(db, user, account)
    return _public(await run_in_threadpool(read_monthly, ctx.settings.reports(), month, account))


@router.get("/{account}/monthly/{month}/download", response_class=Response, responses=_DOWNLOAD)
async def monthly_file(
    account: AccountPath, month: MonthPath, ctx: Ctx, db: Db, user: User, fmt: Format = "csv"
) -> Response:
    """The monthly statement as CSV or PDF."""
    _check(db, user, account)
    return _file(await run_in_threadpool(read_monthly, ctx.settings.reports(), month, account), fmt)
