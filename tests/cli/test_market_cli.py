"""``ets market``: the simulation of a day from a scenario file (its last line one JSON object, a bad
file one line of error), and a trading day driven command by command on the session chain."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chain.accounts import demo_account
from chain.config import ChainSettings
from chain.market import cst_time, next_weekday_at, set_chain_time, trading_day
from domain.tokens import Kind, encode_id
from ets.cli import main as cli
from tests.conftest import Consortium
from tests.sim.test_market_simulate import EXAMPLE, EXAMPLE_RESULT
from tests.utils.chain import register

runner = CliRunner()
Run = Callable[..., tuple[int, str]]
CO2_2027 = encode_id(Kind.ALLOWANCE, "CO2", 2027)


def flat(text: str) -> str:
    """Output with its whitespace collapsed: rich wraps long messages at the terminal width."""
    return " ".join(text.split())


def test_simulate_prints_the_example_day_as_one_json_line() -> None:
    result = runner.invoke(cli.app, ["market", "simulate", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    last = result.stdout.strip().splitlines()[-1]
    assert json.loads(last) == EXAMPLE_RESULT
    assert list(json.loads(last)) == [
        "open_price",
        "close_price",
        "trades",
        "rejected",
        "book",
        "balances",
        "fees",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        (
            json.dumps({"reference_price": 1000, "accounts": {}, "events": [{"op": "open", "when": 1}]}),
            "when",
        ),
        (json.dumps({"reference_price": -3, "accounts": {}, "events": []}), "reference_price"),
    ],
)
def test_simulate_refuses_a_bad_scenario_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, message: str
) -> None:
    monkeypatch.setenv("COLUMNS", "10000")  # rich wraps at the terminal's width: give it a wide one
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = runner.invoke(cli.app, ["market", "simulate", str(path)], terminal_width=10_000)
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("MarketInputError:") and message in lines[0], result.output


# ---------------------------------------------------------------------- a day, command by command


@pytest.fixture
def ets(fresh: Consortium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    monkeypatch.setenv("ETS_RPC_URL", fresh.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    monkeypatch.setenv("ETS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("ETS_DEMO", "1")
    monkeypatch.setenv("COLUMNS", "10000")  # one line per message
    shutil.copy(fresh.manifest_path, ChainSettings.load().manifest_path)

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli.app, list(args), terminal_width=10_000)
        return result.exit_code, result.output

    yield run


def test_cli_runs_a_trading_day_command_by_command(ets: Run, fresh: Consortium) -> None:
    buyer, seller = demo_account("enterprise-1"), demo_account("enterprise-2")
    for i, account in enumerate((buyer, seller)):
        register(fresh.registry, fresh.members, account.address, seed=800 + i)
    fresh.cash.deposit(fresh.exchange, buyer.address, 10**9, "cli-market-buyer")
    fresh.allowance.set_cap(fresh.regulator, CO2_2027, 1_000)
    fresh.allowance.allocate(fresh.regulator, CO2_2027, [seller.address], [1_000], b"\x02" * 32)

    code, out = ets("market", "order", "CO2:2027", "buy", "10000", "5", "--as", "enterprise-1")
    assert code == 1 and "MarketNotListed" in out, out
    code, out = ets(
        "market", "rules", "set", "CO2:2027", "--reference", "10000", "--fee-bps", "1001", "--as", "exchange"
    )
    assert code == 1 and "MarketInputError" in out and "fee ≤ 1,000 bps" in out, out
    code, out = ets("market", "rules", "set", "CO2:2027", "--reference", "10000", "--fee-bps", "10",
                    "--block-minimum", "200", "--as", "exchange")  # fmt: skip
    assert code == 0 and "listed" in out, out
    code, out = ets("market", "rules", "show", "CO2:2027", "--json")
    shown = json.loads(out)
    assert (shown["reference_price"], shown["fee_bps"], shown["band"]) == (10_000, 10, [9_000, 11_000]), out

    day_start = next_weekday_at(fresh.chain.timestamp(), 33_300)  # 9:15 CST: the call phase
    set_chain_time(fresh.chain, day_start)
    assert ets("market", "order", "CO2:2027", "buy", "10100", "30", "--as", "enterprise-1")[0] == 0
    code, out = ets("market", "order", "CO2:2027", "sell", "9900", "20", "--as", "enterprise-2")
    assert code == 0 and "order 2 placed: no fill" in out, out
    code, out = ets("market", "order", "CO2:2027", "sell", "12000", "5", "--as", "enterprise-2")
    assert code == 1 and "MarketPriceOutsideBand" in out and "11000" in out, out

    set_chain_time(fresh.chain, cst_time(trading_day(day_start)[0], 34_200))  # 9:30: the open
    code, out = ets("market", "open", "CO2:2027", "--as", "auditor")
    assert code == 0 and "price 10,100" in out and "volume 20" in out, out
    code, out = ets("market", "order", "CO2:2027", "sell", "10050", "15", "--as", "enterprise-2")
    assert code == 0 and "order 3 placed: 1 fill(s), 10 t: 10 @ 10,100" in out, out
    code, out = ets("market", "take", "3", "2", "--as", "enterprise-1")
    assert code == 0 and "take 4: 1 fill(s), 2 t: 2 @ 10,050" in out, out
    code, out = ets("market", "take", "3", "2", "--as", "enterprise-2")
    assert code == 1 and "MarketSelfTrade" in out, out
    code, out = ets("market", "book", "CO2:2027", "--json")
    assert code == 0 and json.loads(out)["asks"] == [[10_050, 3]] and json.loads(out)["bids"] == [], out

    set_chain_time(fresh.chain, cst_time(trading_day(day_start)[0], 46_800))  # 13:00: blocks allowed
    code, out = ets(
        "market", "block", "propose", "CO2:2027", buyer.address, "9000", "300", "--as", "enterprise-2"
    )
    assert code == 0 and "block 5 proposed" in out, out
    code, out = ets("market", "block", "accept", "5", "--as", "enterprise-1")
    assert code == 0 and "block 5 executed: 1 fill(s), 300 t: 300 @ 9,000" in out, out
    propose = ("market", "block", "propose", "CO2:2027", buyer.address, "9000", "300", "--as", "enterprise-2")
    assert ets(*propose)[0] == 0
    code, out = ets("market", "block", "decline", "6", "--as", "enterprise-1")
    assert code == 0 and "block 6 declined" in out, out
    assert ets(*propose)[0] == 0
    code, out = ets("market", "block", "cancel", "7", "--as", "enterprise-1")
    assert code == 1 and "MarketNotBlockSeller" in out, out
    code, out = ets("market", "block", "cancel", "7", "--as", "enterprise-2")
    assert code == 0 and "block 7 cancelled" in out, out

    assert ets("market", "halt", "CO2:2027", "--reason", "test halt", "--as", "exchange")[0] == 0
    code, out = ets("market", "order", "CO2:2027", "buy", "10000", "1", "--as", "enterprise-1")
    assert code == 1 and "MarketHalted" in out, out
    assert ets("market", "resume", "CO2:2027", "--as", "exchange")[0] == 0
    code, out = ets("market", "halt", "--all", "--reason", "drill", "--as", "exchange")
    assert code == 0 and "the market (every token id) halted: drill" in out, out
    shown = json.loads(ets("market", "rules", "show", "CO2:2027", "--json")[1])
    assert (shown["halted"], shown["market_halted"]) == (True, True)
    code, out = ets("market", "order", "CO2:2027", "buy", "10000", "1", "--as", "enterprise-1")
    assert code == 1 and "MarketHalted" in out, out
    code, out = ets("market", "halt", "CO2:2027", "--all", "--reason", "x", "--as", "exchange")
    assert code == 1 and "MarketInputError" in out and "not both" in out, out
    code, out = ets("market", "resume", "--as", "exchange")
    assert code == 1 and "MarketInputError" in out, out
    code, out = ets("market", "resume", "--all", "--as", "exchange")
    assert code == 0 and "the market (every token id) resumed" in out, out
    code, out = ets("market", "cancel", "1", "--as", "enterprise-1")
    assert code == 1 and "MarketOrderNotOpen" in out and len(out.strip().splitlines()) == 1, out

    code, out = ets("market", "close-day", "CO2:2027", "--as", "auditor")
    assert code == 1 and "MarketDayNotOver" in out, out
    set_chain_time(fresh.chain, cst_time(trading_day(day_start)[0], 54_000))  # 15:00: the close
    code, out = ets("market", "close-day", "CO2:2027", "--as", "auditor", "--json")
    assert code == 0, out
    quote = json.loads(out)
    # listing trades: 20 @ 10,100 (call), 10 @ 10,100, 2 @ 10,050; the block is excluded
    assert (quote["open_price"], quote["volume"], quote["turnover"], quote["block_volume"]) == (
        10_100, 32, 323_100, 300)  # fmt: skip
    assert quote["close_price"] == (2 * 323_100 + 32) // 64 == 10_097
    assert fresh.market.holdings(CO2_2027) == (0, 0)
    code, out = ets("market", "trades", "CO2:2027", "--json", "--day", str(trading_day(day_start)[0]))
    assert code == 0 and [t["mode"] for t in json.loads(out)] == ["call", "continuous", "take", "block"], out

    # risk controls in the rulebook: a position limit and governance (the book is empty after the close)
    code, out = ets("market", "rules", "set", "CO2:2027", "--reference", "10000",
                    "--position-limit-bps", "10001", "--as", "exchange")  # fmt: skip
    assert code == 1 and "MarketInputError" in out and "share ≤ 10,000 bps" in out, out
    code, out = ets("market", "rules", "set", "CO2:2027", "--reference", "10000", "--position-limit", "500",
                    "--position-limit-bps", "2500", "--governed", "--as", "exchange")  # fmt: skip
    assert code == 0 and "listed" in out, out
    shown = json.loads(ets("market", "rules", "show", "CO2:2027", "--json")[1])
    assert (shown["position_limit"], shown["position_limit_bps"], shown["governed"]) == (500, 2500, True)
    code, out = ets("market", "rules", "set", "CO2:2027", "--reference", "10000", "--as", "exchange")
    assert code == 1 and "MarketRulebookGoverned" in out, out
