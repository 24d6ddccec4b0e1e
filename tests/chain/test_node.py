"""Anvil process control: start, answer, stop, no orphans."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from chain.errors import NodeError
from chain.node import AnvilNode, node_down, node_status, node_up, pid_alive, rpc_ready


def test_node_answers_with_chain_id_and_stops_cleanly() -> None:
    with AnvilNode(chain_id=4242) as node:
        assert rpc_ready(node.url) == 4242
        pid = node.pid
        assert pid is not None and pid_alive(pid)
        command = node.command()
        cache = Path(command[command.index("--cache-path") + 1])  # not ~/.foundry: a dir of its own
        assert cache.is_dir()
    assert not pid_alive(pid)
    assert rpc_ready(node.url, timeout=0.3) is None
    assert not cache.exists()  # the states it wrote went with it


def test_node_refuses_when_port_taken() -> None:
    with AnvilNode() as node, pytest.raises(NodeError, match="already in use"):
        AnvilNode(port=node.port).start(timeout=5)


def test_node_dies_with_its_parent_when_parent_killed(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from chain.node import AnvilNode\n"
        "n = AnvilNode().start()\n"
        "print(n.pid, n.url, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    pid_text, url = parent.stdout.readline().split()
    child = int(pid_text)
    assert rpc_ready(url) is not None
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while pid_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(child), "anvil outlived the process that started it"


def test_detached_node_up_status_down_keeps_state(tmp_path: Path) -> None:
    from chain.node import free_port

    port = free_port()
    state = node_up(tmp_path, port=port)
    try:
        assert node_status(tmp_path) == state
        assert node_up(tmp_path, port=port) == state  # idempotent
    finally:
        assert node_down(tmp_path)
    assert node_status(tmp_path) is None
    assert not node_down(tmp_path)
    assert (tmp_path / "anvil-state.json").exists()
