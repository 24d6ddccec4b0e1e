"""The consortium demo on a generated QBFT network: wait for blocks, deploy, govern the node
allowlist and the demo consortium, and bring every node's local allowlists in step."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from chain.accounts import demo_account
from chain.deploy import Manifest, SuiteConfig, deploy_suite
from chain.network.allowlist import AllowlistSync, NodeAllowlistClient, SyncReport, SyncTarget
from chain.network.besu import PERMISSIONS_FILE
from chain.network.errors import NetworkError
from chain.network.generate import load_network
from chain.network.keys import Enode
from chain.registry import RegistryClient
from chain.tx import ChainClient

logger = logging.getLogger(__name__)

GOVERNANCE_MEMBERS = ("regulator", "exchange", "industry-body")
SERVICE_ROLES = (("regulator", "REGULATOR"), ("exchange", "EXCHANGE"), ("auditor", "AUDITOR"),
                 ("oracle", "ORACLE"))  # fmt: skip
#: Demo accounts the generated demo network pre-funds and allows from the first block.
DEMO_FUNDED = ("deployer", *GOVERNANCE_MEMBERS, "auditor", "oracle", "treasury")


def demo_addresses() -> list[str]:
    """Addresses of the demo accounts a demo network pre-funds (public Anvil keys: demo only)."""
    return [demo_account(n).address for n in DEMO_FUNDED]


def wait_for_blocks(chain: ChainClient, blocks: int = 2, *, timeout: float = 120.0) -> int:
    """Wait until the chain has produced ``blocks`` more blocks (the validators reached consensus).

    Raises:
        NetworkError: no progress within ``timeout`` seconds.
    """
    start = int(chain.w3.eth.block_number)
    deadline = time.monotonic() + timeout
    while (head := int(chain.w3.eth.block_number)) < start + blocks:
        if time.monotonic() > deadline:
            raise NetworkError(
                f"no new block within {timeout:.0f}s (head {head}): are the validators peered?"
            )
        time.sleep(0.5)
    return head


@dataclass
class NetworkDemoReport:
    """What the demo did."""

    manifest: Manifest
    steps: list[str] = field(default_factory=list)
    sync: SyncReport | None = None


def run_network_demo(
    chain: ChainClient,
    network_dir: Path,
    manifest_path: Path,
    *,
    sync_rpc: bool = True,
    say: Callable[[str], None] = logger.info,
) -> NetworkDemoReport:
    """Deploy the suite with the demo governance (2 of 3), grant the service roles, allow every
    generated node in the NodeAllowlist through governance, register the demo enterprises, then
    sync each node's allowlists (its perm_* RPC when ``sync_rpc``, else its permissions file).

    Idempotent: a re-run deploys, grants and allows nothing twice.
    """
    from chain.demo import DEMO_ENTERPRISES, demo_profile

    network = load_network(network_dir)
    members = [demo_account(n) for n in GOVERNANCE_MEMBERS]
    config = SuiteConfig(members=tuple(m.address for m in members), threshold=2)
    manifest = deploy_suite(chain, demo_account("deployer"), config, manifest_path)
    report = NetworkDemoReport(manifest, [f"suite deployed ({len(manifest.contracts)} contracts)"])
    say(report.steps[-1])
    registry = RegistryClient(chain, manifest.address("ConsortiumRegistry"))
    nodes = NodeAllowlistClient(chain, manifest.address("NodeAllowlist"))

    missing = [(role, demo_account(n).address) for n, role in SERVICE_ROLES]
    missing = [(role, a) for role, a in missing if not registry.has_role(role, a)]
    if missing:
        registry.grant_roles(members, missing, "demo: service roles")
        report.steps.append(f"granted {len(missing)} service roles (2-of-3 governance)")
        say(report.steps[-1])

    allowed = {e.url for e in nodes.nodes()}
    for node in network["nodes"]:
        enode = Enode.parse(node["enode"])
        if enode.url not in allowed:
            nodes.govern_allow(registry, members, enode)
            report.steps.append(f"allowed {node['name']} in the NodeAllowlist (governance)")
            say(report.steps[-1])

    calls = [
        registry.encode_register_enterprise(demo_account(f"enterprise-{i + 1}").address, demo_profile(i))
        for i in range(len(DEMO_ENTERPRISES))
        if registry.enterprise_by_credit_code(demo_profile(i).credit_code) is None
    ]
    if calls:
        registry.govern(members, registry.encode_multicall(calls), "demo: register enterprises")
        report.steps.append(f"registered {len(calls)} enterprises in one multicall proposal")
        say(report.steps[-1])

    if sync_rpc:
        targets = [SyncTarget(rpc_url=n["rpc_url"]) for n in network["nodes"]]
    else:
        targets = [
            SyncTarget(permissions_file=network_dir / n["name"] / PERMISSIONS_FILE) for n in network["nodes"]
        ]
    sync = AllowlistSync(registry, nodes, targets, extra_accounts=[manifest.deployer, *demo_addresses()])
    report.sync = sync.sync_once(force=True)
    if report.sync is not None:
        report.steps.append(
            f"allowlists of {len(targets)} nodes in step: {len(report.sync.desired.accounts)} accounts, "
            f"{len(report.sync.desired.nodes)} nodes"
        )
        say(report.steps[-1])
        if report.sync.failures:
            raise NetworkError(f"allowlist sync failed: {report.sync.failures}")
    return report
