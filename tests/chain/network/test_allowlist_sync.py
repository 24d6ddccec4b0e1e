"""`ets network sync-allowlist`: the registry and the NodeAllowlist on a real Anvil, node-local
allowlists on a loopback server answering Besu's perm_* methods (no Besu binary runs here), and
permissions_config.toml files written for real."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.accounts import demo_account, dev_account
from chain.network.allowlist import (
    AllowlistDiff,
    Allowlists,
    AllowlistSync,
    NodeAllowlistClient,
    PermRpc,
    SyncTarget,
    write_permissions_file,
)
from chain.network.besu import read_toml
from chain.network.errors import AllowlistSyncError, NetworkConfigError
from chain.network.keys import Enode, NodeKey
from tests.chain.network.loopback_besu import BesuState, loopback_besu
from tests.conftest import Consortium
from tests.utils.chain import register

NODES = [Enode(NodeKey.generate().node_id, f"10.0.0.{i + 1}", 30303) for i in range(3)]
BOOTNODE = Enode(NodeKey.generate().node_id, "10.0.9.9", 30303)
STALE_NODE = Enode(NodeKey.generate().node_id, "10.0.8.8", 30303)
DEPLOYER = demo_account("deployer").address


def _sync(c: Consortium, targets: list[SyncTarget]) -> AllowlistSync:
    nodes = NodeAllowlistClient(c.chain, c.manifest.address("NodeAllowlist"))
    return AllowlistSync(c.registry, nodes, targets, extra_accounts=[DEPLOYER])


def _allow_nodes(c: Consortium, enodes: list[Enode]) -> None:
    nodes = NodeAllowlistClient(c.chain, c.manifest.address("NodeAllowlist"))
    for enode in enodes:
        nodes.govern_allow(c.registry, c.members, enode)


def test_sync_brings_node_and_file_to_registry_state(fresh: Consortium, tmp_path: Path) -> None:
    enterprise = dev_account(27).address
    register(fresh.registry, fresh.members, enterprise, seed=27)
    _allow_nodes(fresh, NODES[:2])
    state = BesuState(
        accounts=[fresh.outsider.address.lower(), fresh.regulator.address.lower()],
        nodes=[STALE_NODE.url, BOOTNODE.url],
        fixed_nodes={BOOTNODE.url},
    )
    perms = tmp_path / "permissions_config.toml"
    perms.write_text('accounts-allowlist = []\nnodes-allowlist = []\nother-key = "kept"\n')
    with loopback_besu(state) as url:
        report = _sync(fresh, [SyncTarget(rpc_url=url), SyncTarget(permissions_file=perms)]).sync_once(
            force=True
        )
    assert report is not None and not report.failures
    expected = {
        a.lower()
        for a in [
            *(m.address for m in fresh.members),
            fresh.auditor.address,
            fresh.oracle.address,
            enterprise,
            DEPLOYER,
        ]
    }
    assert expected <= report.desired.accounts
    assert fresh.outsider.address.lower() not in report.desired.accounts
    assert all(fresh.registry.transaction_allowed(a) for a in report.desired.accounts - {DEPLOYER.lower()})
    assert set(state.accounts) == report.desired.accounts
    # the stale node goes; the bootnode is fixed in Besu, so it stays (logged), the rest is the contract's
    assert set(state.nodes) == {NODES[0].url, NODES[1].url, BOOTNODE.url}
    assert report.changes[url].remove_accounts == (fresh.outsider.address.lower(),)
    written = read_toml(perms)
    assert set(written["accounts-allowlist"]) == report.desired.accounts
    assert set(written["nodes-allowlist"]) == {NODES[0].url, NODES[1].url}
    assert written["other-key"] == "kept" and report.files_written == [perms]


def test_sync_does_nothing_until_an_event_then_follows_it(fresh: Consortium, tmp_path: Path) -> None:
    enterprise = dev_account(28).address
    register(fresh.registry, fresh.members, enterprise, seed=28)
    state = BesuState()
    perms = tmp_path / "permissions_config.toml"
    with loopback_besu(state) as url:
        sync = _sync(fresh, [SyncTarget(rpc_url=url, permissions_file=perms)])
        assert sync.sync_once() is not None  # first pass always syncs
        assert enterprise.lower() in state.accounts
        calls = len(state.calls)
        fresh.chain.advance_time(1)  # a block without registry events
        assert sync.sync_once() is None and len(state.calls) == calls
        fresh.registry.govern(fresh.members, fresh.registry.encode_suspend(enterprise, 2), "suspend")
        _allow_nodes(fresh, NODES[2:])
        report = sync.sync_once()
    assert report is not None
    assert report.changes[url] == AllowlistDiff(
        remove_accounts=(enterprise.lower(),), add_nodes=(NODES[2].url,)
    )
    assert enterprise.lower() not in state.accounts and state.nodes == [NODES[2].url]
    assert enterprise.lower() not in read_toml(perms)["accounts-allowlist"]


def test_sync_reports_failure_and_retries_when_node_down(fresh: Consortium) -> None:
    state = BesuState(down=True)
    with loopback_besu(state) as url:
        sync = _sync(fresh, [SyncTarget(rpc_url=url)])
        report = sync.sync_once()
        assert report is not None and url in report.failures and sync.last_block is None
        state.down = False
        report = sync.sync_once()
    assert report is not None and not report.failures and sync.last_block == report.block
    assert set(state.accounts) == report.desired.accounts


def test_perm_rpc_raises_besu_error_when_node_refuses() -> None:
    state = BesuState(accounts=["0x" + "11" * 20])
    with loopback_besu(state) as url:
        rpc = PermRpc(url)
        with pytest.raises(AllowlistSyncError, match="Cannot add an existing account"):
            rpc.apply(AllowlistDiff(add_accounts=("0x" + "11" * 20,)))
        rpc.apply(AllowlistDiff())  # nothing to do: no call (Besu refuses empty lists)
    assert [m for m, _ in state.calls] == ["perm_addAccountsToAllowlist"]


def test_write_permissions_file_skips_when_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "permissions_config.toml"
    desired = Allowlists.of(["0x" + "AB" * 20], [NODES[0].url])
    assert write_permissions_file(path, desired) is True
    assert read_toml(path)["accounts-allowlist"] == ["0x" + "ab" * 20]
    assert write_permissions_file(path, desired) is False


def test_sync_target_needs_rpc_or_file() -> None:
    with pytest.raises(NetworkConfigError):
        SyncTarget()


_ADDRESSES = [f"0x{i:040x}" for i in range(1, 9)]
_ENODES = [Enode(f"{i:0128x}", f"10.0.0.{i}", 30303).url for i in range(1, 7)]


@settings(max_examples=80, deadline=None)
@given(
    st.sets(st.sampled_from(_ADDRESSES)),
    st.sets(st.sampled_from(_ADDRESSES)),
    st.sets(st.sampled_from(_ENODES)),
    st.sets(st.sampled_from(_ENODES)),
)
def test_diff_applied_by_besu_rules_yields_desired_without_refusals(
    have_accounts: set[str], want_accounts: set[str], have_nodes: set[str], want_nodes: set[str]
) -> None:
    state = BesuState(accounts=sorted(have_accounts), nodes=sorted(have_nodes))
    current = Allowlists.of(
        state.handle("perm_getAccountsAllowlist", []), state.handle("perm_getNodesAllowlist", [])
    )
    desired = Allowlists.of(want_accounts, want_nodes)
    diff = AllowlistDiff.between(current, desired)
    for method, items in (
        ("perm_removeAccountsFromAllowlist", diff.remove_accounts),
        ("perm_addAccountsToAllowlist", diff.add_accounts),
        ("perm_addNodesToAllowlist", diff.add_nodes),
        ("perm_removeNodesFromAllowlist", diff.remove_nodes),
    ):
        if items:
            assert state.handle(method, [list(items)]) == "Success"  # RpcFailure would raise
    assert Allowlists.of(state.accounts, state.nodes) == desired
    assert diff.empty == (current == desired)


def test_run_reports_first_pass_then_only_changes(fresh: Consortium) -> None:
    state = BesuState()
    reports = []
    polls = iter(range(4))
    with loopback_besu(state) as url:
        sync = _sync(fresh, [SyncTarget(rpc_url=url)])
        sync.run(interval=0.01, stop=lambda: next(polls, None) is None, on_report=reports.append)
    assert len(reports) == 1 and set(state.accounts) == reports[0].desired.accounts
