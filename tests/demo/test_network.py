"""The network demo and the `ets network` chain commands, on a real Anvil standing in for the
QBFT chain (contracts and governance are the same; node-local allowlists go to files); and the
network configuration step of ``ets demo``."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chain.accounts import demo_account
from chain.config import ChainSettings
from chain.network.allowlist import NodeAllowlistClient
from chain.network.besu import read_toml
from chain.network.errors import NetworkError
from chain.network.generate import NetworkSpec, init_network
from chain.network.keys import Enode, NodeKey
from demo.network import demo_addresses, run_network_demo, wait_for_blocks
from demo.run import DEMO_ENTERPRISES
from ets.cli import main as cli
from tests.conftest import Consortium

runner = CliRunner()


def _network(tmp_path: Path) -> Path:
    out = tmp_path / "net"
    init_network(out, NetworkSpec(validators=2, fund=tuple(demo_addresses())), "pw", scrypt_n=2**4)
    return out


def test_network_demo_allows_nodes_and_syncs_files_then_reruns_idle(
    fresh: Consortium, tmp_path: Path
) -> None:
    out = _network(tmp_path)
    manifest_path = tmp_path / "deployment.json"
    report = run_network_demo(fresh.chain, out, manifest_path, sync_rpc=False)
    nodes = NodeAllowlistClient(fresh.chain, report.manifest.address("NodeAllowlist"))
    generated = [
        Enode.parse(n) for n in read_toml(out / "node-1" / "permissions_config.toml")["nodes-allowlist"]
    ]
    assert sorted(e.url for e in nodes.nodes()) == sorted(e.url for e in generated)
    assert all(nodes.connection_allowed(e) for e in generated)
    for name in ("node-1", "node-2"):
        accounts = set(read_toml(out / name / "permissions_config.toml")["accounts-allowlist"])
        enterprises = {
            demo_account(f"enterprise-{i + 1}").address.lower() for i in range(len(DEMO_ENTERPRISES))
        }
        assert enterprises <= accounts and demo_account("deployer").address.lower() in accounts
        assert demo_account("enterprise-13").address.lower() not in accounts
    again = run_network_demo(fresh.chain, out, manifest_path, sync_rpc=False)
    assert len(again.steps) == 2  # deployed nothing new; only the sync pass


def test_wait_for_blocks_raises_when_chain_does_not_progress(fresh: Consortium) -> None:
    with pytest.raises(NetworkError, match="no new block"):
        wait_for_blocks(fresh.chain, 1, timeout=0.6)


@pytest.fixture
def ets(
    fresh: Consortium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., tuple[int, str]]]:
    monkeypatch.setenv("ETS_RPC_URL", fresh.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    monkeypatch.setenv("ETS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("ETS_DEMO", "1")
    shutil.copy(fresh.manifest_path, ChainSettings.load().manifest_path)

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli.app, list(args))
        return result.exit_code, result.output

    yield run


def test_cli_node_proposal_then_governance_allows_node_and_sync_writes_file(
    ets: Callable[..., tuple[int, str]], fresh: Consortium, tmp_path: Path
) -> None:
    enode = Enode(NodeKey.generate().node_id, "10.1.2.3", 30303)
    code, out = ets("network", "node", "allow", enode.url, "--as", "regulator")
    assert code == 0, out
    proposal = int(out.split()[1].rstrip(":"))
    assert ets("governance", "approve", str(proposal), "--as", "exchange")[0] == 0
    assert ets("governance", "execute", str(proposal), "--as", "regulator")[0] == 0
    code, out = ets("network", "nodes")
    assert code == 0 and out.split() == [enode.url]
    perms = tmp_path / "permissions_config.toml"
    code, out = ets("network", "sync-allowlist", "--permissions-file", str(perms), "--once")
    assert code == 0, out
    written = read_toml(perms)
    assert written["nodes-allowlist"] == [enode.url]
    assert fresh.regulator.address.lower() in written["accounts-allowlist"]
    code, out = ets("network", "node", "allow", enode.url, "--as", "regulator")
    assert code == 1 and "NodeAllowlistAlreadyAllowed" in out
    code, out = ets("network", "sync-allowlist", "--once")
    assert code == 1 and "nothing to sync" in out


def test_demo_network_config_generates_four_validators_once_and_says_besu_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chain.network.qbft import genesis_extra_data, sort_validators
    from demo.network import demo_network_config

    monkeypatch.setenv("PATH", str(tmp_path / "no-besu"))
    first = demo_network_config(tmp_path, scrypt_n=2**4)
    assert first.created and first.besu is None
    assert len(first.nodes) == len(first.validators) == 4
    assert first.decoded == first.validators == tuple(sort_validators([v for _, v, _ in first.nodes]))
    assert first.extra_data == genesis_extra_data(first.validators)
    assert (tmp_path / "network.password").stat().st_mode & 0o777 == 0o600
    funded = {
        a.lower()
        for a in read_toml(first.directory / "node-1" / "permissions_config.toml")["accounts-allowlist"]
    }
    assert {a.lower() for a in demo_addresses()} <= funded
    again = demo_network_config(tmp_path, scrypt_n=2**4)
    assert not again.created and (again.validators, again.extra_data) == (first.validators, first.extra_data)
