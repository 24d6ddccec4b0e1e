"""``ets auction``: the simulation from a scenario file, and a real auction step by step."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chain.accounts import demo_account
from chain.config import ChainSettings
from domain.auction import clear, normalize_schedule
from domain.tokens import Kind, encode_id
from ets.cli import main as cli
from tests.conftest import Consortium
from tests.utils.chain import register

runner = CliRunner()
Run = Callable[..., tuple[int, str]]

SCENARIO = {
    "supply": 100, "reserve_price": 5000, "purchase_limit": 60, "price_rule": "lowest_accepted",
    "bids": [
        {"bidder": "huaneng", "price": 7000, "quantity": 30},
        {"bidder": "jiaojiang", "price": 6500, "quantity": 50},
        {"bidder": "huaneng", "price": 6000, "quantity": 40},
        {"bidder": "beilun", "price": 6000, "quantity": 20},
        {"bidder": "beilun", "price": 5000, "quantity": 100},
        {"bidder": "shangyu", "price": 9000, "quantity": 10},
    ],
    "no_show": ["shangyu"], "forfeit_bps": 1000,
}  # fmt: skip


def flat(text: str) -> str:
    """Output with its whitespace collapsed: rich wraps long messages at the terminal width."""
    return " ".join(text.split())


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli.app, list(args))
    return result.exit_code, result.stdout, result.output


def _json_tail(text: str) -> object:
    return json.loads(text[text.index("{") :])


def test_simulate_prints_contract_result_equal_to_reference(tmp_path: Path) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(SCENARIO))
    code, stdout, output = invoke("auction", "simulate", str(path))
    assert code == 0, output
    result = _json_tail(stdout)
    assert result == {
        "clearing_price": 6000,
        "allocations": {"huaneng": 42, "jiaojiang": 50, "beilun": 8, "shangyu": 0},
        "unsold": 0,
        "payments": {"huaneng": 252_000, "jiaojiang": 300_000, "beilun": 48_000, "shangyu": 0},
    }


def test_simulate_secondary_highest_rejected_undersubscribed(tmp_path: Path) -> None:
    scenario = {
        "supply": 50, "reserve_price": 100, "price_rule": "highest_rejected", "seller": "secondary",
        "bids": [{"bidder": "a", "price": 300, "quantity": 20}, {"bidder": "b", "price": 99, "quantity": 10},
                 {"bidder": "c", "price": 150, "quantity": 5}],
    }  # fmt: skip
    path = tmp_path / "s.json"
    path.write_text(json.dumps(scenario))
    code, stdout, output = invoke("auction", "simulate", str(path))
    assert code == 0, output
    expected = clear(50, 100, [("a", normalize_schedule([(300, 20)])), ("b", normalize_schedule([(99, 10)])),
                               ("c", normalize_schedule([(150, 5)]))])  # fmt: skip
    assert _json_tail(stdout) == {"clearing_price": 100, "allocations": expected.allocations, "unsold": 25,
                                  "payments": {"a": 2000, "b": 0, "c": 500}}  # fmt: skip


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        (json.dumps({**SCENARIO, "supply": 0}), "supply"),
        (json.dumps({**SCENARIO, "bids": [{"bidder": "a", "price": -1, "quantity": 1}], "no_show": []}),
         "price"),
        (json.dumps({**SCENARIO, "bids": [{"bidder": "a", "price": "7000", "quantity": 1}], "no_show": []}),
         "price"),
        (json.dumps({k: v for k, v in SCENARIO.items() if k != "reserve_price"}), "reserve_price"),
        (json.dumps({**SCENARIO, "no_show": ["nobody"]}), "nobody"),
        (json.dumps({**SCENARIO, "price_rule": "pay_as_bid"}), "price_rule"),
        (json.dumps({**SCENARIO, "bids": [{"bidder": "a", "price": p, "quantity": 1} for p in range(1, 18)],
                     "no_show": []}), "at most 16"),
    ],
)  # fmt: skip
def test_simulate_refuses_bad_scenarios_with_a_clear_message(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    code, _, output = invoke("auction", "simulate", str(path))
    assert code == 1
    assert "AuctionInputError" in flat(output) and message in flat(output), output


# ---------------------------------------------------------------------- the real thing, step by step


@pytest.fixture
def ets(fresh: Consortium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    monkeypatch.setenv("ETS_RPC_URL", fresh.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    monkeypatch.setenv("ETS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("ETS_DEMO", "1")
    shutil.copy(fresh.manifest_path, ChainSettings.load().manifest_path)

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli.app, list(args))
        return result.exit_code, result.output

    yield run


def test_cli_runs_a_primary_auction_step_by_step(ets: Run, fresh: Consortium, tmp_path: Path) -> None:
    bidders = [demo_account(f"enterprise-{i}") for i in (1, 2)]
    for i, b in enumerate(bidders):
        register(fresh.registry, fresh.members, b.address, seed=700 + i)
        fresh.cash.deposit(fresh.exchange, b.address, 10**9, f"cli-auction-{i}")
    fresh.allowance.set_cap(fresh.regulator, encode_id(Kind.ALLOWANCE, "CO2", 2027), 10_000)

    code, out = ets("auction", "create", "--supply", "100", "--reserve", "5000", "--as", "regulator")
    assert code == 0 and "auction 1 created" in out, out
    code, out = ets("auction", "commit", "1", "--bid", "7000:60", "--bid", "6000:30", "--as", "enterprise-1")
    assert code == 0, out
    secret = next((tmp_path / "bids").glob("auction-1-*.json"))
    assert secret.stat().st_mode & 0o077 == 0  # only the bidder reads its salt
    assert ets("auction", "commit", "1", "--bid", "6500:50", "--as", "enterprise-2")[0] == 0
    code, out = ets("auction", "commit", "1", "--bid", "65x00", "--as", "enterprise-2")
    assert code == 1 and "PRICE:QUANTITY" in flat(out)
    code, out = ets("auction", "reveal", "1", "--as", "enterprise-1")
    assert code == 1 and "AuctionNotInRevealPhase" in flat(out), out

    fresh.chain.advance_time(24 * 3600)
    assert ets("auction", "reveal", "1", "--as", "enterprise-1")[0] == 0
    assert ets("auction", "reveal", "1", "--as", "enterprise-2")[0] == 0
    code, out = ets("auction", "clear", "1", "--as", "auditor")
    assert code == 1 and "AuctionNotInClearingPhase" in flat(out), out
    fresh.chain.advance_time(24 * 3600)
    code, out = ets("auction", "clear", "1", "--as", "auditor")
    assert code == 0 and "price 6500" in out, out
    code, out = ets("auction", "claim", "1", "--as", "enterprise-1")
    assert code == 0 and "claimed 60" in out, out
    code, out = ets("auction", "claim", "1", "--as", "enterprise-1")
    assert code == 1 and "AuctionAlreadySettled" in flat(out), out
    assert ets("auction", "claim", "1", "--as", "enterprise-2")[0] == 0
    assert ets("auction", "withdraw", "1", "--as", "regulator")[0] == 0
    code, out = ets("auction", "show", "1", "--json")
    assert code == 0, out
    shown = json.loads(out)
    assert (shown["phase"], shown["clearing_price"], shown["sold"]) == ("cleared", 6500, 100)
    assert [e["event"] for e in shown["events"]].count("AllowancesClaimed") == 2


def test_cli_creates_a_primary_auction_restricted_to_named_projects(ets: Run, fresh: Consortium) -> None:
    bidders = [demo_account(f"enterprise-{i}") for i in (1, 2)]
    for i, b in enumerate(bidders):
        register(fresh.registry, fresh.members, b.address, seed=720 + i)
        fresh.cash.deposit(fresh.exchange, b.address, 10**9, f"cli-restricted-{i}")
    fresh.allowance.set_cap(fresh.regulator, encode_id(Kind.ALLOWANCE, "CO2", 2027), 10_000)
    named = bidders[0].address
    code, out = ets("auction", "create", "--supply", "10", "--reserve", "5000", "--bidder", named,
                    "--secondary", "--as", "regulator")  # fmt: skip
    assert code == 1 and "excludes --secondary" in flat(out), out
    assert fresh.auction.count() == 0
    code, out = ets("auction", "create", "--supply", "10", "--reserve", "5000", "--bidder", named,
                    "--as", "regulator")  # fmt: skip
    assert code == 0 and f"restricted to {named}" in flat(out), out
    assert fresh.auction.restricted_bidders(1) == [named]
    code, out = ets("auction", "commit", "1", "--bid", "6000:5", "--as", "enterprise-2")
    assert code == 1 and "AuctionBidderNotAllowed" in flat(out), out
    assert ets("auction", "commit", "1", "--bid", "6000:5", "--as", "enterprise-1")[0] == 0
    code, out = ets("auction", "show", "1", "--json")
    assert code == 0 and "AuctionRestricted" in [e["event"] for e in json.loads(out)["events"]], out
