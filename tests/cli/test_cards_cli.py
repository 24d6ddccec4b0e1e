"""``ets cards`` end to end on the session chain (EmissionCards deployed and wired, a device of
enterprise-1 bound, SO2 2027 allocated): issue, load, recharge, balance, settle, statement,
replace, revoke; refusals printed by name."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chain.accounts import demo_account
from chain.cards import CardsClient, wire_cards
from chain.deploy import ContractRecord
from domain.tokens import Kind, encode_id
from ets.cli import main as cli
from tests.cli.test_plans_cli import Run
from tests.conftest import Consortium
from tests.utils.chain import register

E1 = demo_account("enterprise-1")
DEVICE = demo_account("enterprise-7").address
SO2_2027 = encode_id(Kind.ALLOWANCE, "SO2", 2027)


@pytest.fixture
def ets(fresh: Consortium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    if not fresh.registry.is_active_participant(E1.address):
        register(fresh.registry, fresh.members, E1.address, seed=978)
    fresh.registry.bind_device(
        fresh.regulator, DEVICE, E1.address, "33100000000009CLI", oracle=fresh.oracle.address
    )
    fresh.allowance.set_cap(fresh.regulator, SO2_2027, 1_000)
    fresh.allowance.allocate(fresh.regulator, SO2_2027, [E1.address], [1_000], b"cli-cards".ljust(32, b"\0"))
    address, receipt = fresh.chain.deploy(
        "EmissionCards", [fresh.registry.address, fresh.allowance.address], fresh.members[0]
    )
    wire_cards(fresh.registry, fresh.members, CardsClient(fresh.chain, address))
    record = ContractRecord(address, int(receipt["blockNumber"]), "0x", "", [])
    manifest = replace(fresh.manifest, contracts={**fresh.manifest.contracts, "EmissionCards": record})
    manifest.save(tmp_path / "deployment.json")
    monkeypatch.setenv("ETS_RPC_URL", fresh.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    monkeypatch.setenv("ETS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("ETS_DEMO", "1")
    monkeypatch.setenv("ETS_MANIFEST", str(tmp_path / "deployment.json"))

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli.app, list(args))
        return result.exit_code, " ".join(result.output.split())

    yield run


def test_cards_cli_issues_loads_settles_and_states(ets: Run, fresh: Consortium) -> None:
    code, out = ets("cards", "issue", "77", DEVICE, "--as", "enterprise-1")
    assert code == 1 and "UnauthorizedRole" in out, out
    code, out = ets("cards", "issue", "77", DEVICE, "--as", "regulator")
    assert code == 0 and f"card 77 issued to {E1.address}" in out, out
    code, out = ets("cards", "load", "77", "SO2", "2027", "3", "600", "--as", "enterprise-1")
    assert code == 0 and "600 t committed for 2027-03" in out, out
    code, out = ets("cards", "load", "77", "SO2", "2027", "3", "401", "--as", "enterprise-1")
    assert code == 1 and "CardLoadExceedsHoldings" in out, out
    code, out = ets("cards", "load", "77", "SO2", "2027", "3", "100", "--as", "enterprise-1")
    assert code == 0 and "700 t committed for 2027-03" in out, out
    code, out = ets("cards", "balance", E1.address, "SO2", "2027", "3")
    assert code == 0 and "card 77 (active" in out and "700 t SO2 committed for 2027-03 (open)" in out, out
    code, out = ets("cards", "settle", "77", "SO2", "2027", "3", "650", "--as", "oracle")
    assert code == 0 and "used 650 t held, 50 t returned" in out, out
    code, out = ets("cards", "statement", "77", "SO2", "2027")
    assert code == 0 and "2027-03: committed 700 t, used 650 t, returned 50 t" in out, out
    assert "held for surrender: 650 t" in out
    code, out = ets("cards", "release", E1.address, "SO2", "2027", "--as", "enterprise-1")
    assert code == 1 and "UnauthorizedRole" in out, out
    code, out = ets("cards", "release", E1.address, "SO2", "2027", "--as", "regulator")
    assert code == 0 and "650 t SO2 2027 released" in out, out
    assert ets("cards", "replace", "77", "78", "--as", "regulator")[0] == 0
    code, out = ets("cards", "revoke", "78", "--reason", "2", "--as", "regulator")
    assert code == 0 and "card 78 revoked" in out, out
    assert fresh.allowance.balance(E1.address, SO2_2027) == 1_000
