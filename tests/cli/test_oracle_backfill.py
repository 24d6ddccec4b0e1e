"""``ets oracle backfill``: a window left in a gateway's queue reaches the running gateway, which
asks the device after its next frame; bad windows refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ets.cli import main as cli
from oracle.hj212 import history_window, parse
from oracle.queue import Queue
from tests.utils.backfill import START, controllers, gateway

runner = CliRunner()


def test_oracle_backfill_leaves_window_the_gateway_asks_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETS_STATE_DIR", str(tmp_path))
    path = tmp_path / "q.db"
    (ctl,) = controllers(1)
    frames = [parse(w) for w in ctl.frames(2)]
    with Queue(path) as queue:
        gw = gateway(queue, 1, ask_poll=0.0)
        gw.handle(frames[0])
        args = ["oracle", "backfill", ctl.mn, "--begin", "2027-03-01T00:00", "--end", "2027-03-01T00:00"]
        result = runner.invoke(cli.app, [*args, "--queue", str(path)])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["ask"] == 1
        commands = gw.handle(frames[1])
    assert commands is not None and history_window(parse(commands[0])) == (START, START)


@pytest.mark.parametrize(
    ("extra", "refusal"),
    [
        (["--cn", "2011"], "HistoryRequestError"),
        (["--begin", "2027-03-01T01:00"], "HistoryRequestError"),
    ],
)
def test_oracle_backfill_refuses_bad_window_by_name(
    extra: list[str], refusal: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETS_STATE_DIR", str(tmp_path))
    path = tmp_path / "q.db"
    Queue(path).close()
    args = ["oracle", "backfill", "MN1", "--begin", "2027-03-01T00:00", "--end", "2027-03-01T00:30", *extra]
    result = runner.invoke(cli.app, [*args, "--queue", str(path)])
    assert result.exit_code == 1 and refusal in result.output
    with Queue(path) as queue:
        assert queue.get_state("backfill:ask:MN1") is None


def test_oracle_backfill_refuses_missing_queue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETS_STATE_DIR", str(tmp_path))
    args = ["oracle", "backfill", "MN1", "--begin", "2027-03-01T00:00", "--end", "2027-03-01T00:30"]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 1 and "no gateway queue" in result.output
