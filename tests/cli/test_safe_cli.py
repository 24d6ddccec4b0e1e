"""``ets safe`` and ``ets trusted`` end to end on the session chain: the Safe contracts deployed into
the manifest, a 2-of-2 Safe created and registered, a transfer proposed into a file, refused with
one signature, executed with two, listed; TrustedCounterparties deployed and wired through
``ets governance``, a counterparty added and listed; refusals printed by name."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chain.accounts import demo_account
from ets.cli import main as cli
from tests.cli.test_plans_cli import Run
from tests.conftest import Consortium
from tests.utils.chain import register
from tests.utils.market import CO2_2027

ALICE, BOB = demo_account("enterprise-7"), demo_account("enterprise-8")
RECEIVER = demo_account("enterprise-9")


@pytest.fixture
def ets(fresh: Consortium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    fresh.manifest.save(tmp_path / "deployment.json")
    monkeypatch.setenv("ETS_RPC_URL", fresh.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    monkeypatch.setenv("ETS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("ETS_DEMO", "1")
    monkeypatch.setenv("ETS_MANIFEST", str(tmp_path / "deployment.json"))

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli.app, list(args))
        return result.exit_code, " ".join(result.output.split())

    yield run


def test_safe_cli_creates_proposes_signs_and_executes(ets: Run, fresh: Consortium, tmp_path: Path) -> None:
    code, out = ets("safe", "deploy")
    assert code == 0 and "singleton" in out, out
    code, out = ets(
        "safe", "create", "--owner", ALICE.address, "--owner", BOB.address, "--as", "enterprise-7"
    )
    assert code == 0 and "2 of 2" in out, out
    safe = out.split()[1].rstrip(":")
    register(fresh.registry, fresh.members, safe, seed=971)
    register(fresh.registry, fresh.members, RECEIVER.address, seed=972)
    fresh.allowance.set_cap(fresh.regulator, CO2_2027, fresh.allowance.issued(CO2_2027) + 1_000)
    fresh.allowance.allocate(fresh.regulator, CO2_2027, [safe], [1_000], b"\x97" * 32)
    file = tmp_path / "tx.json"
    args = json.dumps([safe, RECEIVER.address, CO2_2027, 60, "0x"])
    code, out = ets("safe", "propose", safe, "AllowanceToken", "safeTransferFrom", args, "--out", str(file))
    assert code == 0 and "nonce 0" in out, out
    code, out = ets("safe", "sign", str(file), "--as", "enterprise-7")
    assert code == 0 and "1 of 2" in out, out
    code, out = ets("safe", "execute", str(file), "--as", "enterprise-7")
    assert code == 1 and "SafeThresholdNotMetError" in out, out
    code, out = ets("safe", "sign", str(file), "--as", "enterprise-1")
    assert code == 1 and "SafeSignerNotOwnerError" in out, out
    assert ets("safe", "sign", str(file), "--as", "enterprise-8")[0] == 0
    code, out = ets("safe", "execute", str(file), "--as", "enterprise-8")
    assert code == 0 and "executed nonce 0" in out, out
    assert fresh.allowance.balance(RECEIVER.address, CO2_2027) == 60
    code, out = ets("safe", "list", safe)
    shown = json.loads(out)
    assert shown["threshold"] == 2 and shown["nonce"] == 1 and shown["executed"][0]["nonce"] == 0


def test_trusted_cli_deploys_wires_adds_and_lists(ets: Run, fresh: Consortium) -> None:
    code, out = ets("trusted", "deploy", "--delay", "60", "--limit", "10", "--as", "regulator")
    assert code == 0 and "setTrustedCounterparties" in out, out
    proposal = out.split("proposal ")[1].split(":")[0]
    assert ets("governance", "approve", proposal, "--as", "exchange")[0] == 0
    assert ets("governance", "execute", proposal, "--as", "regulator")[0] == 0
    register(fresh.registry, fresh.members, ALICE.address, seed=973)
    code, out = ets("trusted", "add", BOB.address, "--as", "enterprise-7")
    assert code == 0 and "trusted by" in out, out
    code, out = ets("trusted", "add", BOB.address, "--as", "enterprise-7")
    assert code == 1 and "TrustedCounterpartyListed" in out, out
    code, out = ets("trusted", "list", ALICE.address)
    shown = json.loads(out)
    assert shown["limit"] == 10 and shown["delay_seconds"] == 60
    assert [(r["counterparty"], r["trusted_now"]) for r in shown["counterparties"]] == [(BOB.address, False)]
