"""The market's end of day in the settlement layer (issue 20, rule 8) on a real chain: a traded
day's open orders and pending block expire (the Market holds nothing after), its close (the
half-up VWAP of the listing trades) becomes the reference price and the next day's band follows;
a day without trades keeps its reference; a day not yet closed, or a signer without the EXCHANGE
role, is refused with nothing sent; a re-run sends nothing; the scheduled settlement job closes
the market after settling and anchoring the day."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from chain.accounts import write_keystore
from chain.errors import ContractRevertError
from chain.market import cst_time, set_chain_time, trading_day
from chain.settlement import SettlementReportsClient
from domain.market import Side, TradeMode
from ets.cli import main as cli
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from scheduler.service import blocking
from scheduler.wiring import settlement_job
from settlement.calendar import day_code
from settlement.day import DayResult
from settlement.errors import MarketCloseRefusedError, MarketDayOpenError
from settlement.market import close_market
from settlement.schedule import JOB_ID
from tests.conftest import Consortium
from tests.settlement.conftest import CALENDAR
from tests.utils.compliance import ENTERPRISES, setup_cycle
from tests.utils.market_day import RULES, TOKEN, MarketDay, at, list_token, trade_day

E0, E1, E2, E3 = ENTERPRISES
SHANGHAI = ZoneInfo("Asia/Shanghai")
#: The scripted day's listing trades (tests.utils.market_day): the call 100 t at 10,050, then
#: 50 t at 10,000 and 40 t at 10,050 (continuous), 15 t at 10,200 (take); turnover 2,060,000 fen
#: over 205 t = 10,048.78 → 10,049 fen/t half up. The block (300 t at 9,500) is excluded.
CLOSE = 10_049


def _date(day: int) -> date:
    return date(1970, 1, 1) + timedelta(days=day)


def _traded_day(c: Consortium) -> MarketDay:
    """The set-up on one day, the scripted trading day on a later weekday (so the set-up's
    deposits and allocations are not the traded day's movements)."""
    setup_cycle(c)
    set_chain_time(c.chain, cst_time(trading_day(c.chain.timestamp())[0] + 1, 60))
    return trade_day(c)


def _cash(c: Consortium) -> int:
    return sum(c.cash.balance(a) for a in [*(e.address for e in ENTERPRISES), c.market.fee_account()])


def test_close_market_expires_orders_and_posts_vwap_close_when_day_traded(fresh: Consortium) -> None:
    c = fresh
    setup_cycle(c)
    set_chain_time(c.chain, cst_time(trading_day(c.chain.timestamp())[0] + 1, 60))
    cash_before = _cash(c)
    d = trade_day(c)
    listing = [t for t in c.market.trades_of_day(TOKEN, d.day) if t.mode is not TradeMode.BLOCK]
    volume, turnover = sum(t.quantity for t in listing), sum(t.value for t in listing)
    assert (volume, turnover) == (205, 2_060_000)
    assert (2 * turnover + volume) // (2 * volume) == CLOSE  # half up: 10,048.78 → 10,049
    assert c.market.holdings(TOKEN) != (0, 0)  # open orders and the pending block hold escrow
    open_ids = [i for e in ENTERPRISES for s in Side for i in c.market.open_orders_of(e.address, TOKEN, s)]
    assert len(open_ids) == 3
    at(c, d.day, RULES.close2 + 60)

    result = close_market(c.market, c.exchange, _date(d.day))

    closed = result.token(TOKEN)
    assert (closed.expired_orders, closed.expired_blocks, closed.close, closed.posted) == (3, 1, CLOSE, True)
    assert closed.transactions == 2  # one expiry page, one post
    assert c.market.holdings(TOKEN) == (0, 0)  # every escrow returned
    assert not any(c.market.order(i).open for i in open_ids)
    assert _cash(c) == cash_before  # cash conserved across the traders and the fee account
    assert c.market.rulebook(TOKEN).reference_price == CLOSE  # type: ignore[union-attr]
    # the next day's listing band follows the close: ceil(10,049 × 0.9), floor(10,049 × 1.1)
    assert c.market.band(TOKEN) == (9_045, 11_053)
    at(c, d.day + (3 if (d.day + 3) % 7 == 4 else 1), RULES.open1 + 60)  # the next weekday
    assert c.market.place(E1, TOKEN, Side.SELL, 11_053, 1).id > 0
    with pytest.raises(ContractRevertError) as refused:
        c.market.place(E1, TOKEN, Side.SELL, 11_054, 1)
    assert (refused.value.error, refused.value.args_) == (
        "MarketPriceOutsideBand",
        {"tokenId": TOKEN, "price": 11_054, "lower": 9_045, "upper": 11_053},
    )


def test_close_market_keeps_reference_and_expires_orders_when_day_has_no_trade(fresh: Consortium) -> None:
    c = fresh
    setup_cycle(c)
    list_token(c)
    set_chain_time(c.chain, cst_time(trading_day(c.chain.timestamp())[0] + 1, 60))
    day = trading_day(c.chain.timestamp())[0]
    while (day + 3) % 7 >= 5:
        day += 1
    at(c, day, RULES.open1 + 60)
    buy = c.market.place(E0, TOKEN, Side.BUY, 9_900, 10).id
    sell = c.market.place(E1, TOKEN, Side.SELL, 10_100, 20).id
    assert c.market.trades_of_day(TOKEN, day) == []
    at(c, day, RULES.close2 + 1)

    closed = close_market(c.market, c.exchange, _date(day)).token(TOKEN)

    assert (closed.expired_orders, closed.close, closed.posted, closed.transactions) == (2, None, False, 1)
    assert not c.market.order(buy).open and not c.market.order(sell).open
    assert c.market.holdings(TOKEN) == (0, 0)
    assert c.market.rulebook(TOKEN).reference_price == RULES.reference_price  # type: ignore[union-attr]
    assert c.market.events("ReferencePriceSet", tokenId=TOKEN) == []


def test_close_market_refused_and_sends_nothing_when_day_not_closed(fresh: Consortium) -> None:
    c = fresh
    d = _traded_day(c)  # ends at 13:01, in the afternoon session
    head, held = c.chain.w3.eth.block_number, c.market.holdings(TOKEN)
    with pytest.raises(MarketDayOpenError):
        close_market(c.market, c.exchange, _date(d.day))
    at(c, d.day, RULES.close2 - 1)  # one second before 15:00: still refused
    head = c.chain.w3.eth.block_number
    with pytest.raises(MarketDayOpenError):
        close_market(c.market, c.exchange, _date(d.day))
    with pytest.raises(MarketDayOpenError):  # a day in the future
        close_market(c.market, c.exchange, _date(d.day + 1))
    assert c.chain.w3.eth.block_number == head and c.market.holdings(TOKEN) == held
    assert c.market.rulebook(TOKEN).reference_price == RULES.reference_price  # type: ignore[union-attr]


def test_close_market_refused_and_sends_nothing_when_signer_not_exchange(fresh: Consortium) -> None:
    c = fresh
    d = _traded_day(c)
    at(c, d.day, RULES.close2 + 60)
    head, held = c.chain.w3.eth.block_number, c.market.holdings(TOKEN)
    with pytest.raises(MarketCloseRefusedError, match="UnauthorizedRole"):
        close_market(c.market, E0, _date(d.day))  # an enterprise: may expire, may not post
    assert c.chain.w3.eth.block_number == head and c.market.holdings(TOKEN) == held


def test_close_market_refused_and_sends_nothing_when_signer_not_the_settlement_agent(
    fresh: Consortium,
) -> None:
    c = fresh
    d = _traded_day(c)
    at(c, d.day, RULES.close2 + 60)
    agent = c.market.contract.functions.setSettlementAgent(c.regulator.address)
    c.registry.govern_call(c.members, agent, "another settlement agent")
    head, held = c.chain.w3.eth.block_number, c.market.holdings(TOKEN)
    with pytest.raises(MarketCloseRefusedError, match="MarketNotSettlementAgent"):
        close_market(c.market, c.exchange, _date(d.day))  # the exchange, but not the agent
    assert c.chain.w3.eth.block_number == head and c.market.holdings(TOKEN) == held


def test_close_market_sends_nothing_when_rerun_or_reference_set_after_close(fresh: Consortium) -> None:
    c = fresh
    d = _traded_day(c)
    at(c, d.day, RULES.close2 + 60)
    assert close_market(c.market, c.exchange, _date(d.day)).transactions == 2
    head = c.chain.w3.eth.block_number

    again = close_market(c.market, c.exchange, _date(d.day))

    assert again.transactions == 0 and c.chain.w3.eth.block_number == head
    assert (again.token(TOKEN).close, again.token(TOKEN).posted) == (CLOSE, False)
    # the exchange sets another reference after the close: a later re-run does not overwrite it
    c.market.set_reference_price(c.exchange, TOKEN, 10_000)
    head = c.chain.w3.eth.block_number
    assert close_market(c.market, c.exchange, _date(d.day)).transactions == 0
    assert c.chain.w3.eth.block_number == head
    assert c.market.rulebook(TOKEN).reference_price == 10_000  # type: ignore[union-attr]


def test_close_market_posts_later_close_only_when_days_closed_out_of_order(fresh: Consortium) -> None:
    c = fresh
    d = _traded_day(c)
    at(c, d.day, RULES.close2 + 60)
    c.market.expire_all(E0, TOKEN)  # anyone may expire; nobody posted day D's close
    later = d.day + (3 if (d.day + 3) % 7 == 4 else 1)
    at(c, later, RULES.open1 + 60)
    c.market.place(E1, TOKEN, Side.SELL, 10_100, 10)
    c.market.place(E0, TOKEN, Side.BUY, 10_100, 10)  # the later day's only trade
    at(c, later, RULES.close2 + 60)

    stale = close_market(c.market, c.exchange, _date(d.day)).token(TOKEN)

    assert (stale.close, stale.posted, stale.transactions) == (CLOSE, False, 0)  # superseded
    closed = close_market(c.market, c.exchange, _date(later)).token(TOKEN)
    assert (closed.close, closed.posted, closed.expired_orders) == (10_100, True, 0)
    assert c.market.rulebook(TOKEN).reference_price == 10_100  # type: ignore[union-attr]


def test_settlement_job_closes_market_after_balanced_anchored_day_when_fired_after_close(
    fresh: Consortium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = fresh
    d = _traded_day(c)
    day = _date(d.day)
    set_chain_time(c.chain, CALENDAR.close_at(day) + 60)
    engine = make_engine(f"sqlite:///{tmp_path / 'read.db'}")
    upgrade(engine)
    Indexer(c.chain, c.manifest, engine).catch_up()
    keystore = write_keystore(c.exchange, tmp_path / "exchange.json", "s3cret")
    env = {
        "ETS_RPC_URL": c.chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        "ETS_STATE_DIR": str(tmp_path),
        "ETS_MANIFEST": str(c.manifest_path),
        "ETS_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "ETS_KEYSTORE_PASSWORD": "s3cret",
        "ETS_SETTLE_KEYSTORE": str(keystore),
        "ETS_SETTLE_REQUIRE_BANK": "0",
        "ETS_SETTLE_REPORTS_DIR": str(tmp_path / "reports"),
        "ETS_SETTLE_BANK_DIR": str(tmp_path),
    }
    monkeypatch.delenv("ETS_DEMO", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    job = blocking(_Idle(), 60, settlement_job()).get_job(JOB_ID)
    fired_at = datetime.fromtimestamp(CALENDAR.close_at(day), SHANGHAI) + timedelta(minutes=10)

    result: Any = job.func(*job.args, now=fired_at)

    assert isinstance(result, DayResult)
    assert result.balanced, result.reconciliation.differences
    reports = SettlementReportsClient(c.chain, c.manifest.address("SettlementReports"))
    assert result.anchored == "published" and reports.verify(day_code(day), result.bundle.report_hash)
    assert c.market.holdings(TOKEN) == (0, 0)
    assert c.market.rulebook(TOKEN).reference_price == CLOSE  # type: ignore[union-attr]
    [posted] = c.market.events("ReferencePriceSet", tokenId=TOKEN)
    assert posted["args"]["price"] == CLOSE
    head = c.chain.w3.eth.block_number
    again: Any = job.func(*job.args, now=fired_at + timedelta(hours=1))  # misfired rerun: nothing new
    assert again.anchored == "already" and c.chain.w3.eth.block_number == head


def test_settle_close_market_cli_closes_day_and_exits_1_when_day_open(
    fresh: Consortium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = fresh
    d = _traded_day(c)
    env = {
        "ETS_RPC_URL": c.chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        "ETS_STATE_DIR": str(tmp_path),
        "ETS_DEMO": "1",
        "ETS_MANIFEST": str(c.manifest_path),
        "ETS_DATABASE_URL": f"sqlite:///{tmp_path / 'read.db'}",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    def ets(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli.app, ["settle", "close-market", *args])
        return result.exit_code, result.output

    day = _date(d.day).isoformat()
    head = c.chain.w3.eth.block_number
    code, out = ets("--day", day, "--as", "exchange")
    assert code == 1 and "MarketDayOpenError" in out and c.chain.w3.eth.block_number == head
    at(c, d.day, RULES.close2 + 60)
    code, out = ets("--day", day, "--as", "exchange", "--json")
    assert code == 0, out
    summary = json.loads(out)
    assert summary["trading_day"] == day
    assert summary["tokens"] == [
        {"token_id": TOKEN, "expired_orders": 3, "expired_blocks": 1, "transactions": 2, "close": CLOSE,
         "posted": True}
    ]  # fmt: skip
    code, out = ets("--day", day, "--as", "exchange")
    assert code == 0 and "0 transaction(s)" in out and "close 10049 fen/t;" in out


class _Idle:
    """A compliance scan that finds nothing."""

    def scan(self) -> None:
        return None
