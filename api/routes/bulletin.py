"""Routes: a settled day's daily settlement bulletin (every signed-in account) and its large-holder
report (exchange, regulator, auditor), read from the day's written report after checking its files
against the manifest whose hash settlement anchored (``settlement.bulletin.read_bulletin``); and
the settled days whose report carries both (reports written before the bulletin, format 1, do not)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path as FsPath
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.deps import Ctx, User
from api.schemas import ERRORS
from domain.bulletin import COLUMNS
from settlement.bulletin import SettledBulletin, bulletin_file, holders_file, read_bulletin
from settlement.calendar import day_code
from settlement.verify import MANIFEST

router = APIRouter(prefix="/market", tags=["market"])

DayPath = Annotated[date, Path(description="Trading day (Asia/Shanghai calendar), YYYY-MM-DD")]

_TOKEN = 16844776
_E0 = "0xBcd4042DE499D14e55001CcbB24a551F3b954096"


class BulletinRowPublic(BaseModel):
    """One token id and trading mode of the day (prices in fen per tonne, turnover in fen)."""

    token_id: int = Field(description="Allowance id")
    mode: str = Field(description="listing (continuous and takes), call, block, or all")
    volume: int = Field(description="Tonnes traded that day")
    turnover: int = Field(description="Fen traded that day (price × quantity)")
    open: int | None = Field(description="First trade's price; null without trades that day")
    high: int | None = Field(description="Highest price; null without trades")
    low: int | None = Field(description="Lowest price; null without trades")
    vwap: int | None = Field(description="Volume-weighted average price, half up; null without trades")
    close: int | None = Field(
        description="The token id's close (VWAP of its listing and call trades, the next day's reference); "
        "null without such trades"
    )
    trades: int = Field(description="Fills that day")
    ytd_volume: int = Field(description="Tonnes traded in the year up to and including the day")
    ytd_turnover: int = Field(description="Fen traded in the year up to and including the day")
    ytd_trades: int = Field(description="Fills in the year up to and including the day")


class BulletinPublic(BaseModel):
    """A settled day's daily settlement bulletin."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "day": "2027-03-15", "report_hash": "0x" + "ab" * 32,
        "rows": [{"token_id": _TOKEN, "mode": "all", "volume": 1200, "turnover": 11_880_000, "open": 9850,
                  "high": 9950, "low": 9800, "vwap": 9900, "close": 9912, "trades": 7, "ytd_volume": 5400,
                  "ytd_turnover": 53_100_000, "ytd_trades": 31}],
    }]})  # fmt: skip

    day: date
    report_hash: str = Field(description="The day's report hash (anchored on SettlementReports)")
    rows: list[BulletinRowPublic]


class LargeHolderPublic(BaseModel):
    """An account at or above the threshold share of a token id at the close."""

    token_id: int
    account: str
    name: str = Field(description="Registered name ('' when unknown)")
    balance: int = Field(description="Closing balance plus sells in the Market's escrow (t)")
    issued: int = Field(description="The id's issued quantity at the close (t)")
    share_bps: int = Field(description="balance / issued, basis points rounded down")


class LargeHoldersPublic(BaseModel):
    """A settled day's large-holder report."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "day": "2027-03-15", "threshold_bps": 500,
        "rows": [{"token_id": _TOKEN, "account": _E0, "name": "Huaneng Shandong Power", "balance": 410_000,
                  "issued": 2_000_000, "share_bps": 2050}],
    }]})  # fmt: skip

    day: date
    threshold_bps: int = Field(description="Share of an id's issued quantity that makes a large holder")
    rows: list[LargeHolderPublic]


class BulletinDaysPublic(BaseModel):
    """The settled days whose report has the daily bulletin and the large holders, newest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"days": ["2027-03-16", "2027-03-15"]}]})

    days: list[date]


def bulletin_days(reports_dir: FsPath) -> list[date]:
    """The days under ``reports_dir`` whose report's manifest lists the bulletin and the
    large-holder files (as :func:`settlement.bulletin.read_bulletin` requires), newest first.
    Only the manifests are read: a day listed may still be refused as altered when read."""
    days: list[date] = []
    if not reports_dir.is_dir():
        return days
    for directory in reports_dir.iterdir():
        try:
            day = date.fromisoformat(directory.name)
            files = json.loads((directory / MANIFEST).read_bytes()).get("files", {})
        except (ValueError, OSError, AttributeError):  # not a day, no manifest, not JSON
            continue
        code = day_code(day)
        if (
            directory.name == day.isoformat()
            and isinstance(files, dict)
            and bulletin_file(code) in files
            and holders_file(code) in files
        ):
            days.append(day)
    return sorted(days, reverse=True)


async def _read(ctx: Ctx, day: date) -> SettledBulletin:
    return await run_in_threadpool(read_bulletin, ctx.settings.reports(), day)


@router.get("/bulletin-days", response_model=BulletinDaysPublic, responses=ERRORS)
async def list_bulletin_days(_user: User, ctx: Ctx) -> BulletinDaysPublic:
    """The settled days with a bulletin and a large-holder report, newest first: the days
    `/market/bulletin/{day}` and `/market/large-holders/{day}` answer (a day settled before the
    report's format 2 has neither and is not listed; asked for, it is a 404 naming that)."""
    return BulletinDaysPublic(days=await run_in_threadpool(bulletin_days, ctx.settings.reports()))


@router.get("/bulletin/{day}", response_model=BulletinPublic, responses=ERRORS)
async def get_bulletin(day: DayPath, _user: User, ctx: Ctx) -> BulletinPublic:
    """The day's bulletin per token id and mode (404 ``BulletinNotSettledError`` when the day is
    not settled)."""
    bulletin = await _read(ctx, day)
    return BulletinPublic(
        day=day,
        report_hash=bulletin.report_hash,
        rows=[BulletinRowPublic(**dict(zip(COLUMNS, r.values(), strict=True))) for r in bulletin.rows],  # type: ignore[arg-type]
    )


@router.get("/large-holders/{day}", response_model=LargeHoldersPublic, responses=ERRORS)
async def get_large_holders(day: DayPath, user: User, ctx: Ctx) -> LargeHoldersPublic:
    """Accounts holding at least the threshold share of a token id at the day's close
    (exchange, regulator and auditors; 404 ``BulletinNotSettledError`` when the day is not settled
    or its report predates the bulletin: `GET /market/bulletin-days` lists the days it answers)."""
    user.require("EXCHANGE", "REGULATOR", "AUDITOR")
    bulletin = await _read(ctx, day)
    return LargeHoldersPublic(
        day=day,
        threshold_bps=bulletin.threshold_bps,
        rows=[LargeHolderPublic(**vars(h)) for h in bulletin.large_holders],
    )
