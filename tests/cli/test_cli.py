"""The ``ets`` CLI end to end on a real Anvil: happy path and every refusal printed by name."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chain.accounts import demo_account
from ets.cli import main as cli
from tests.conftest import Consortium
from tests.utils.chain import credit_code

runner = CliRunner()


def flat(text: str) -> str:
    """Output with its whitespace collapsed: rich wraps long messages at the terminal width."""
    return " ".join(text.split())


@pytest.fixture
def ets(
    fresh: Consortium, anvil: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[object]:
    monkeypatch.setenv("ETS_RPC_URL", fresh.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    monkeypatch.setenv("ETS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("ETS_DEMO", "1")

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli.app, list(args))
        return result.exit_code, result.output

    yield run


def _add_args(account: str, code: str) -> list[str]:
    return [
        "registry", "enterprise", "add", account, "--code", code, "--name", "Taizhou Huaneng Power",
        "--region", "331000", "--industry", "D4411", "--lat", "28.656", "--lon", "121.42",
    ]  # fmt: skip


def test_cli_registers_enterprise_through_governance_and_binds_device(ets) -> None:  # type: ignore[no-untyped-def]
    code, out = ets("deploy")
    assert code == 0, out
    assert "ConsortiumRegistry" in out
    code, out = ets("deploy")  # second run: nothing new
    assert code == 0, out
    account = demo_account("enterprise-1").address
    code, out = ets(*_add_args(account, credit_code(1)), "--as", "regulator")
    assert code == 0, out
    assert "proposal 1" in out
    assert ets("governance", "approve", "1", "--as", "exchange")[0] == 0
    code, out = ets("governance", "execute", "1", "--as", "regulator")
    assert code == 0, out
    code, out = ets("registry", "enterprise", "list", "--json")
    rows = json.loads(out)
    assert [(r["account"], r["credit_code"], r["status"]) for r in rows] == [
        (account, credit_code(1), "ACTIVE")
    ]
    # grant REGULATOR to the regulator through governance, then bind a device
    assert ets("governance", "propose", "grant-role", "REGULATOR", demo_account("regulator").address,
               "--as", "regulator")[0] == 0  # fmt: skip
    assert ets("governance", "approve", "2", "--as", "industry-body")[0] == 0
    assert ets("governance", "execute", "2", "--as", "industry-body")[0] == 0
    device = demo_account("enterprise-9").address
    code, out = ets("registry", "device", "add", device, "--enterprise", account, "--mn", "33100000000001",
                    "--as", "regulator")  # fmt: skip
    assert code == 0, out
    code, out = ets("registry", "device", "list", "--json")
    assert json.loads(out)[0]["mn"] == "33100000000001"
    code, out = ets("governance", "list", "--json")
    assert [p["executed"] for p in json.loads(out)] == [True, True]


def test_cli_prints_error_name_and_exits_nonzero_on_bad_input(ets) -> None:  # type: ignore[no-untyped-def]
    assert ets("deploy")[0] == 0
    account = demo_account("enterprise-1").address
    good = credit_code(2)
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    code, out = ets(*_add_args(account, bad), "--as", "regulator")
    assert code == 1 and "InvalidInputError" in flat(out) and "check character" in flat(out)
    code, out = ets(*_add_args("0x" + "00" * 20, good), "--as", "regulator")
    assert code == 1 and "zero address" in flat(out)
    code, out = ets(*_add_args(account, good), "--as", "enterprise-3")
    assert code == 1 and "GovernanceNotMember" in flat(out) and "not a governance member" in flat(out)
    assert ets(*_add_args(account, good), "--as", "regulator")[0] == 0
    code, out = ets("governance", "approve", "1", "--as", "regulator")
    assert code == 1 and "ProposalAlreadyApproved" in flat(out)
    code, out = ets("governance", "execute", "1", "--as", "regulator")
    assert code == 1 and "ProposalThresholdNotMet" in flat(out)
    assert ets("governance", "approve", "1", "--as", "exchange")[0] == 0
    assert ets("governance", "execute", "1", "--as", "exchange")[0] == 0
    code, out = ets(*_add_args(demo_account("enterprise-2").address, good), "--as", "regulator")
    assert code == 1 and "RegistryDuplicateEnterprise" in flat(out)
    code, out = ets("governance", "propose", "set-threshold", "9", "--as", "regulator")
    assert code == 1 and "GovernanceInvalidThreshold" in flat(out)
    code, out = ets("governance", "propose", "explode", "--as", "regulator")
    assert code == 1 and "unknown action" in flat(out)


def test_cli_refuses_demo_accounts_outside_demo_mode(ets, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    assert ets("deploy")[0] == 0
    monkeypatch.setenv("ETS_DEMO", "0")
    code, out = ets("governance", "approve", "1", "--as", "exchange")
    assert code == 1 and "ConfigError" in flat(out) and "demo mode" in flat(out)
    monkeypatch.setenv("ETS_PRIVATE_KEY", demo_account("oracle").key.hex())
    code, out = ets("governance", "list")
    assert code == 1 and "ConfigError" in flat(out) and "public Anvil development key" in flat(out)
    key = demo_account("oracle").key.hex().removeprefix("0x")
    assert key[10:30] not in out  # no part of the key shows in output


def test_ets_console_script_reports_node_down(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "ets"
    result = subprocess.run(
        [str(exe), "node", "status"], capture_output=True, text=True,
        env={"ETS_STATE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}, check=False,
    )  # fmt: skip
    assert result.returncode == 1 and "node: down" in result.stdout


def test_oracle_run_refuses_an_empty_keystore_password_in_one_line_without_echoing_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETS_ORACLE_KEYSTORE_PASSWORD", "")
    result = runner.invoke(cli.app, ["oracle", "run", "--tcp-port", "0", "--queue", str(tmp_path / "q.db")])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "keystore_password" in result.output
    assert "refused" in result.output
    assert "Traceback" not in result.output
