"""``ets oracle valve close|open``: the order signed with the regulator's key is left in the
gateway's queue; the gateway checks it against the registry on Anvil and commands the controller
after its next frame; an order signed by another role is refused by name, nothing sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ets.cli import main as cli
from oracle.hj212 import CN_VALVE_CONTROL, parse
from oracle.queue import Queue
from oracle.valve import RegistryRegulators, ReverseControl, ValveOrderCheck
from tests.conftest import Consortium
from tests.utils.backfill import controllers, gateway


def test_oracle_valve_close_reaches_the_controller_and_another_roles_order_is_refused(
    fresh: Consortium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = fresh
    monkeypatch.setenv("ETS_RPC_URL", c.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    monkeypatch.setenv("ETS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("ETS_MANIFEST", str(c.manifest_path))
    monkeypatch.setenv("ETS_DEMO", "1")
    path = tmp_path / "q.db"
    (ctl,) = controllers(1)
    frames = [parse(w) for w in ctl.frames(3)]
    with Queue(path) as queue:
        check = ValveOrderCheck(
            c.chain.chain_id, c.registry.address, RegistryRegulators(c.registry), [ctl.mn]
        )
        gw = gateway(queue, 1, ask_poll=0.0, control=ReverseControl(queue), valve_orders=check)
        assert gw.control is not None
        gw.handle(frames[0])
        args = ["oracle", "valve", "close", ctl.mn, "--reason", "停产整顿", "--queue", str(path)]
        refused = CliRunner().invoke(cli.app, [*args, "--as", "auditor", "--nonce", "1"])
        assert refused.exit_code == 0, refused.output  # signed and left; the gateway decides
        assert gw.handle(frames[1]) is None
        assert gw.stats.rejected["ValveOrderNotRegulatorError"] == 1 and gw.control.log(ctl.mn) == []
        result = CliRunner().invoke(cli.app, [*args, "--as", "regulator", "--nonce", "2"])
        assert result.exit_code == 0, result.output
        left = json.loads(result.output)
        assert (left["regulator"], left["action"], left["order"]) == (c.regulator.address, "close", 2)
        commands = gw.handle(frames[2])
    assert commands is not None
    command = parse(commands[0])
    assert (command.cn, command.extras, command.mn) == (CN_VALVE_CONTROL, {"ValveCmd": "0"}, ctl.mn)


def test_oracle_valve_refuses_an_unknown_action(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETS_STATE_DIR", str(tmp_path))
    result = CliRunner().invoke(cli.app, ["oracle", "valve", "shut", "M1", "--reason", "x"])
    assert result.exit_code != 0 and "close or open" in " ".join(result.output.split())
