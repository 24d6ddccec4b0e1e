"""``ets market records import`` and ``ets market scan --day D`` over a read model holding the
recorded trading day of :mod:`sim.market_day` (its fills as ``market_trades`` rows, timed over
the sessions): two of its traders recorded in one group make wash-trade alerts citing exactly the
trades between them; a bad records file is refused naming each problem, nothing imported."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select
from typer.testing import CliRunner

from domain.market import Rulebook, TradeMode, cst_time
from domain.surveillance import day_number
from ets.cli import main as cli
from readmodel import models as m
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from sim.market_day import DayPlan, generate_day

DAY = "2027-03-15"
TOKEN = 16844776
RULES = Rulebook(reference_price=9_850)

Run = Callable[..., tuple[int, str]]


def address(trader: str) -> str:
    """A fixed address per trader name (``ENT001`` ...)."""
    return "0x" + trader.encode().hex().rjust(40, "0")


def recorded_day(engine: Engine) -> list[dict[str, object]]:
    """The recorded day's fills as ``market_trades`` rows: ids in execution order, block times
    spread over the morning and afternoon sessions (blocks in the afternoon, as drawn)."""
    day = generate_day(DayPlan(orders=1_500, enterprises=12, call_orders=100, blocks=2, seed=21))
    number = day_number(DAY)
    morning = range(cst_time(number, RULES.open1), cst_time(number, RULES.close1))
    afternoon = range(cst_time(number, RULES.open2), cst_time(number, RULES.close2))
    half = len(day.fills) // 2
    rows = []
    for n, f in enumerate(day.fills):
        span, k, of = (morning, n, half) if n < half else (afternoon, n - half, len(day.fills) - half)
        rows.append({
            "id": 1_000 + n, "token_id": TOKEN, "buy_id": f.buy_id, "sell_id": f.sell_id,
            "buyer": address(f.buyer), "seller": address(f.seller), "price": f.price, "quantity": f.quantity,
            "value": f.price * f.quantity, "buyer_fee": f.buyer_fee, "seller_fee": f.seller_fee,
            "mode": TradeMode(f.mode).name.lower(), "day": DAY, "block_number": 100 + n, "log_index": 0,
            "block_time": span.start + (span.stop - span.start) * k // max(of, 1),
            "tx_hash": "0x" + "ab" * 32,
        })  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(m.MarketTrade), rows)
    return rows


@pytest.fixture
def ets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Run, Engine, list[dict[str, object]]]:
    url = f"sqlite:///{tmp_path / 'read.db'}"
    monkeypatch.setenv("ETS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("ETS_DATABASE_URL", url)
    monkeypatch.setenv("ETS_SCHEDULER_DATABASE_URL", f"sqlite:///{tmp_path / 'alarms.db'}")
    engine = make_engine(url)
    upgrade(engine)
    rows = recorded_day(engine)

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli.app, list(args))
        return result.exit_code, result.output

    return run, engine, rows


def pair_of_most_trades(rows: list[dict[str, object]]) -> tuple[str, str]:
    counts: dict[tuple[str, str], int] = {}
    for r in rows:
        low, high = sorted((str(r["buyer"]), str(r["seller"])))
        key = (low, high)
        counts[key] = counts.get(key, 0) + 1
    return max(counts, key=lambda k: counts[k])


def test_scan_of_the_recorded_day_alerts_on_the_groups_trades_once(
    ets: tuple[Run, Engine, list[dict[str, object]]], tmp_path: Path
) -> None:
    run, engine, rows = ets
    a, b = pair_of_most_trades(rows)
    records = tmp_path / "records.csv"
    records.write_text(f"account,group,controller\n{a},Hengyuan Group,\n{b},Hengyuan Group,\n")
    code, out = run("market", "records", "import", str(records))
    assert code == 0, out
    assert "2 account record(s) imported" in out

    code, out = run("market", "scan", "--day", DAY, "--json")
    assert code == 0, out
    alerts = json.loads(out)
    wash = [x for x in alerts if x["kind"] == "wash_trade"]
    between = [r["id"] for r in rows if {r["buyer"], r["seller"]} == {a, b}]
    assert len(wash) == 1 and wash[0]["trade_ids"] == between and wash[0]["new"]
    assert wash[0]["accounts"] == sorted([a, b]) and wash[0]["figures"]["relation"] == "same_group"
    # activity in the recorded day is skewed: the accounts in more than 30 % of the listing volume
    listing = [r for r in rows if r["mode"] != "block"]
    volume = sum(int(str(r["quantity"])) for r in listing)
    part: dict[str, int] = {}
    for r in listing:
        for who in {r["buyer"], r["seller"]}:
            part[str(who)] = part.get(str(who), 0) + int(str(r["quantity"]))
    heavy = sorted(w for w, q in part.items() if q * 10_000 > 3_000 * volume)
    assert heavy and sorted(x["accounts"][0] for x in alerts if x["kind"] == "volume_concentration") == heavy
    ids = {r["id"] for r in rows}
    assert all(set(x["trade_ids"]) <= ids for x in alerts)

    code, out = run("market", "scan", "--day", DAY)  # again: the same alerts, nothing new
    assert code == 0, out
    assert "0 new alert(s), 0 alarm(s) raised" in " ".join(out.split())
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(m.MarketAlert)) == len(alerts)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("0xZZ,Group,\n", ["records.csv line 3", "bad address '0xZZ'"]),
        ("{dup},Other,Someone\n", ["records.csv line 3", "duplicate account", "first on line 2"]),
    ],
)
def test_records_import_refuses_a_bad_file_by_name_and_imports_nothing(
    ets: tuple[Run, Engine, list[dict[str, object]]], tmp_path: Path, body: str, words: list[str]
) -> None:
    run, engine, rows = ets
    first = str(rows[0]["buyer"])
    records = tmp_path / "records.csv"
    duplicate = "0x" + first[2:].upper()
    records.write_text(f"account,group,controller\n{first},G,C\n" + body.format(dup=duplicate))
    code, out = run("market", "records", "import", str(records))
    assert code != 0
    text = " ".join(out.split())
    assert all(w in text for w in words), text
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(m.MarketAccountRecord)) == 0


def test_scan_refuses_a_day_that_is_not_a_date(ets: tuple[Run, Engine, list[dict[str, object]]]) -> None:
    run, _, _ = ets
    code, out = run("market", "scan", "--day", "15.03.2027")
    assert code != 0 and "not YYYY-MM-DD" in out
