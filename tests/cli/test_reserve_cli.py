"""``ets reserve`` end to end on the session chain (plans and the reserve deployed and wired, the
2027 annual plan adopted and its SO2 cap executed): feed, offer at the guide price, accept and
pay, a closure proposed and executed through ``ets governance``, show; refusals printed by name."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chain.accounts import demo_account
from chain.deploy import ContractRecord
from ets.cli import main as cli
from tests.cli.test_plans_cli import Run
from tests.conftest import Consortium
from tests.utils.chain import register
from tests.utils.plans import SO2, annual, deploy_plans, five_year
from tests.utils.reserve import SO2_2027, deploy_reserve

PROJECT = demo_account("enterprise-1")


@pytest.fixture
def ets(fresh: Consortium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    plans = deploy_plans(fresh)
    reserve = deploy_reserve(fresh)
    five = plans.draft_five_year(fresh.regulator, five_year())
    plans.adopt(fresh.registry, fresh.members, five)
    plan_id = plans.draft_annual(fresh.regulator, annual(five))
    plans.adopt(fresh.registry, fresh.members, plan_id)
    plans.execute_cap(fresh.regulator, plan_id, SO2)
    if not fresh.registry.is_active_participant(PROJECT.address):
        register(fresh.registry, fresh.members, PROJECT.address, seed=977)
    records = {
        "TotalControlPlans": ContractRecord(plans.address, plans.from_block, "0x", "", []),
        "GovernmentReserve": ContractRecord(reserve.address, reserve.from_block, "0x", "", []),
    }
    manifest = replace(fresh.manifest, contracts={**fresh.manifest.contracts, **records})
    manifest.save(tmp_path / "deployment.json")
    monkeypatch.setenv("ETS_RPC_URL", fresh.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    monkeypatch.setenv("ETS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("ETS_DEMO", "1")
    monkeypatch.setenv("ETS_MANIFEST", str(tmp_path / "deployment.json"))

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli.app, list(args))
        return result.exit_code, " ".join(result.output.split())

    yield run


def test_reserve_cli_feeds_sells_closes_and_shows(ets: Run, fresh: Consortium) -> None:
    code, out = ets("reserve", "feed", "2", "SO2", "--as", "regulator")
    assert code == 0 and "fed 900 t SO2 from annual plan 2" in out, out
    code, out = ets("reserve", "feed", "2", "SO2", "--as", "regulator")
    assert code == 1 and "ReserveNothingToFeed" in out, out
    code, out = ets("reserve", "offer", PROJECT.address, "SO2", "2027", "100", "--as", "regulator")
    assert code == 0 and "offer 1: 100 t SO2 2027" in out and "25.00 CNY/t = 2,500.00 CNY" in out, out
    fresh.cash.deposit(fresh.exchange, PROJECT.address, 250_000, "BANK-CLI-RESERVE")
    code, out = ets("reserve", "accept", "1", "--as", "enterprise-1")
    assert code == 0 and "offer 1 accepted: 100 t delivered, 2,500.00 CNY paid" in out, out
    assert fresh.allowance.balance(PROJECT.address, SO2_2027) == 100
    code, out = ets("reserve", "close", PROJECT.address, "--reason", "关停 order 7", "--as", "regulator")
    assert code == 0 and "sweeping 1 allowance ids" in out, out
    proposal = out.split()[1].rstrip(":")
    assert ets("governance", "approve", proposal, "--as", "exchange")[0] == 0
    assert ets("governance", "execute", proposal, "--as", "regulator")[0] == 0
    assert fresh.allowance.balance(PROJECT.address, SO2_2027) == 0
    code, out = ets("reserve", "show")
    shown = json.loads(out)
    assert shown["closures"] == 1 and shown["treasury"] == fresh.treasury.address
    assert [(b["pollutant"], b["vintage"], b["balance"], b["fed"]) for b in shown["balances"]] == [
        ("SO2", 2027, 900, 900)
    ]
    assert [(o["id"], o["state"], o["payment"]) for o in shown["offers"]] == [(1, "accepted", 250_000)]


def test_reserve_cli_refuses_bad_input_by_name(ets: Run) -> None:
    code, out = ets("reserve", "offer", PROJECT.address, "SO2", "2027", "0", "--as", "regulator")
    assert code == 1 and "quantity must be positive" in out, out
    code, out = ets(
        "reserve", "offer", PROJECT.address, "SO2", "2027", "10", "--days", "0", "--as", "regulator"
    )
    assert code == 1 and "--days must be positive" in out, out
    code, out = ets("reserve", "offer", PROJECT.address, "SO2", "2027", "10", "--as", "regulator")
    assert code == 1 and "ReserveInsufficient" in out, out
    code, out = ets("reserve", "feed", "2", "SO2", "--as", "exchange")
    assert code == 1 and "ReserveNotRegulatorOrGovernance" in out, out
    code, out = ets("reserve", "close", PROJECT.address, "--reason", "", "--as", "regulator")
    assert code == 1 and "a closure needs a reason" in out, out
