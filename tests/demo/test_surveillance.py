"""The demo's surveillance step (demo.api._surveil) over the demo's trading day on Anvil: the
account records the market step writes (sim.sample) put enterprise-1 and enterprise-2 in one
group, so their trades of the day are a wash-trade alert; a re-run stores nothing new."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import or_, select

from chain.accounts import demo_account
from chain.config import ChainSettings
from demo.api import _surveil
from demo.market import demo_trading_day
from readmodel import models as m
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from scheduler.surveillance import alerts_of_day
from sim.sample import generate_enterprises, write_demo_account_records
from tests.conftest import Consortium
from tests.utils.demo_market import register_demo_enterprises


def test_demo_surveillance_alerts_on_the_trades_of_enterprise_1_and_2(
    fresh: Consortium, tmp_path: Path
) -> None:
    register_demo_enterprises(fresh)
    day = demo_trading_day(fresh.chain, fresh.manifest, fresh.registry, fresh.members)
    engine = make_engine(f"sqlite:///{tmp_path / 'read.db'}")
    upgrade(engine)
    Indexer(fresh.chain, fresh.manifest, engine).catch_up()
    write_demo_account_records(generate_enterprises(20, 3, seed=2027), tmp_path / "sample")
    settings = ChainSettings(state_dir=tmp_path, demo=True)

    lines = _surveil(settings, engine, fresh.chain.timestamp())
    e1, e2 = demo_account("enterprise-1").address, demo_account("enterprise-2").address
    assert lines[0] == "imported 26 account records of the exchange (enterprise group, controller)"
    text = day.day.isoformat()
    [alert] = alerts_of_day(engine, text)
    t = m.MarketTrade
    with engine.connect() as conn:
        pair = or_((t.buyer == e1) & (t.seller == e2), (t.buyer == e2) & (t.seller == e1))
        between = list(conn.scalars(select(t.id).where(pair).order_by(t.id)))
    assert alert.kind == "wash_trade" and set(alert.accounts.split(",")) == {e1, e2}
    assert alert.trade_ids == between and between
    assert f"surveillance of {text}: 12 trades, alerts: wash_trade" in lines[1]
    _surveil(settings, engine, fresh.chain.timestamp())  # a re-run: the same alert, once
    assert [a.id for a in alerts_of_day(engine, text)] == [alert.id]
    engine.dispose()
