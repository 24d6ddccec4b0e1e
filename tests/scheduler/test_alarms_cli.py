"""``ets alarms run --once`` and ``ets alarms list`` on a real Anvil, judged by chain time."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ets.cli import main as cli
from tests.conftest import Consortium
from tests.utils.compliance import ENTERPRISES, setup_cycle

runner = CliRunner()
Run = Callable[..., tuple[int, str]]


@pytest.fixture
def ets(fresh: Consortium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    monkeypatch.setenv("ETS_RPC_URL", fresh.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    monkeypatch.setenv("ETS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("ETS_MANIFEST", str(fresh.manifest_path))
    monkeypatch.setenv("ETS_DEMO", "1")

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli.app, list(args))
        return result.exit_code, result.output

    yield run


def test_alarms_cli_runs_once_and_lists_alarms_as_json(fresh: Consortium, tmp_path: Path, ets: Run) -> None:
    cy = setup_cycle(fresh)
    fresh.chain.advance_time(cy.ack_deadline - fresh.chain.timestamp() + 1)  # chain time: past the deadline

    code, out = ets("alarms", "run", "--once")
    assert code == 0, out
    assert "alarms raised" in out and out.count("ack_overdue") == 3
    assert (tmp_path / "scheduler" / "alarms.db").exists()

    code, out = ets("alarms", "list", "--json")
    assert code == 0, out
    rows = json.loads(out)
    assert sorted(r["enterprise"] for r in rows) == sorted(e.address for e in ENTERPRISES[:3])
    assert all(r["kind"] == "ack_overdue" and r["deliveries"][0]["delivered_at"] for r in rows)

    code, out = ets(
        "alarms", "list", "--json", "--enterprise", ENTERPRISES[1].address.lower(), "--year", "2024"
    )
    assert [r["enterprise"] for r in json.loads(out)] == [ENTERPRISES[1].address]

    code, out = ets("alarms", "run", "--once")  # a second run: nothing new, nothing re-sent
    assert code == 0, out
    assert "ack_overdue" not in out

    code, out = ets("alarms", "list")
    assert code == 0 and "alarms" in out


def test_alarms_cli_refuses_sms_recipients_without_sms_enabled(
    ets: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETS_SCHEDULER_SMS_RECIPIENTS", "+8613800000000")
    code, out = ets("alarms", "run", "--once")
    assert code == 1
    assert "SmsDisabledError" in out
