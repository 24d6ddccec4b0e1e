"""``ets registry`` device oracles and auditor assignments (issue 17 items 4 and 5) on a real Anvil."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chain.accounts import demo_account
from ets.cli import main as cli
from ets.cli.context import Context
from tests.conftest import Consortium
from tests.utils.chain import credit_code

runner = CliRunner()
Ets = Callable[..., tuple[int, str]]


@pytest.fixture
def ets(fresh: Consortium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ets]:
    monkeypatch.setenv("ETS_RPC_URL", fresh.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    monkeypatch.setenv("ETS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("ETS_DEMO", "1")

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli.app, list(args))
        return result.exit_code, result.output

    yield run


def _govern(ets: Ets, proposal_id: int, *args: str) -> None:
    code, out = ets("governance", "propose", *args, "--as", "regulator")
    assert code == 0, out
    assert ets("governance", "approve", str(proposal_id), "--as", "exchange")[0] == 0
    code, out = ets("governance", "execute", str(proposal_id), "--as", "regulator")
    assert code == 0, out


def test_cli_binds_device_with_oracle_and_assigns_auditor_when_regulator(ets: Ets) -> None:
    assert ets("deploy")[0] == 0
    regulator, oracle, auditor = (demo_account(n).address for n in ("regulator", "oracle", "auditor"))
    enterprise = demo_account("enterprise-1").address
    profile = [
        "--name",
        "Taizhou Power",
        "--region",
        "331000",
        "--industry",
        "D4411",
        "--lat",
        "28",
        "--lon",
        "121",
    ]
    code, out = ets(
        "registry", "enterprise", "add", enterprise, "--code", credit_code(1), *profile, "--as", "regulator"
    )
    assert code == 0, out
    assert ets("governance", "approve", "1", "--as", "exchange")[0] == 0
    assert ets("governance", "execute", "1", "--as", "regulator")[0] == 0
    _govern(ets, 2, "grant-role", "REGULATOR", regulator)
    _govern(ets, 3, "grant-role", "ORACLE", oracle)
    _govern(ets, 4, "grant-role", "AUDITOR", auditor)
    registry = Context().registry()

    device = demo_account("enterprise-9").address
    bind = ["--enterprise", enterprise, "--mn", "33100000000001", "--oracle", oracle]
    code, out = ets("registry", "device", "add", device, *bind, "--as", "regulator")
    assert code == 0, out
    assert registry.oracle_of(device) == oracle

    code, out = ets("registry", "device", "set-oracle", device, "--oracle", auditor, "--as", "regulator")
    assert code == 1
    assert "RegistryNotOracle" in out
    assert registry.oracle_of(device) == oracle

    code, out = ets(
        "registry", "enterprise", "assign-auditor", enterprise, "--auditor", auditor, "--as", "regulator"
    )
    assert code == 0, out
    assert registry.is_auditor_assigned(auditor, enterprise)
    code, out = ets(
        "registry", "enterprise", "assign-auditor", enterprise, "--auditor", auditor, "--as", "exchange"
    )
    assert code == 1
    assert "AccessControlUnauthorizedAccount" in out
    code, out = ets(
        "registry", "enterprise", "unassign-auditor", enterprise, "--auditor", auditor, "--as", "regulator"
    )
    assert code == 0, out
    assert not registry.is_auditor_assigned(auditor, enterprise)
