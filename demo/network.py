"""The consortium demo on a generated QBFT network: wait for blocks, deploy, govern the node
allowlist and the demo consortium, and bring every node's local allowlists in step; and the
``ets demo`` step that generates the 4-validator network configuration once under the state dir."""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from chain.accounts import demo_account
from chain.deploy import Manifest, SuiteConfig, deploy_suite
from chain.network.allowlist import AllowlistSync, NodeAllowlistClient, SyncReport, SyncTarget
from chain.network.besu import PERMISSIONS_FILE
from chain.network.errors import NetworkError
from chain.network.generate import GENESIS_FILE, NetworkSpec, init_network, load_network
from chain.network.keys import Enode
from chain.network.qbft import decode
from chain.registry import RegistryClient
from chain.tx import ChainClient
from demo.run import DEMO_ENTERPRISES, demo_profile

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


#: Validators of the network ``ets demo`` generates (one per consortium member, 3f+1 with f = 1).
DEMO_VALIDATORS = 4


@dataclass(frozen=True)
class NetworkConfigReport:
    """The network configuration ``ets demo`` generated (or found).

    Attributes:
        directory: the network directory (``<state dir>/network``, where ``scripts/network`` looks).
        created: generated by this run (False: found from an earlier run).
        chain_id: its chain id.
        nodes: (node name, validator address, enode URL) per node.
        validators: validator addresses in extraData order.
        extra_data: genesis ``extraData`` (QBFT RLP).
        decoded: the validators decoded back from ``extra_data``.
        besu: ``besu --version``'s first line, or None when ``besu`` is not on PATH.
    """

    directory: Path
    created: bool
    chain_id: int
    nodes: tuple[tuple[str, str, str], ...]
    validators: tuple[str, ...]
    extra_data: str
    decoded: tuple[str, ...]
    besu: str | None


def besu_version() -> str | None:
    """The first line of ``besu --version``, or None when no ``besu`` is on PATH (or it fails)."""
    path = shutil.which("besu")
    if path is None:
        return None
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.stdout.strip().splitlines()
    return lines[0] if lines else path


def demo_network_config(
    state_dir: Path,
    *,
    validators: int = DEMO_VALIDATORS,
    scrypt_n: int | None = None,
    say: Callable[[str], None] = logger.info,
) -> NetworkConfigReport:
    """Generate the demo's QBFT network configuration once, as ``ets network init`` does (keys,
    genesis with the validators in extraData, per-node config.toml, static nodes, permissions),
    pre-funding the demo accounts, under ``<state dir>/network`` (the directory
    ``scripts/network`` starts Besu from); the keystore password goes to
    ``<state dir>/network.password`` (0600). A re-run finds it and generates nothing.

    Args:
        state_dir: the demo's state directory.
        validators: validator nodes.
        scrypt_n: keystore scrypt cost (default eth-account's; tests pass a small one).
        say: progress messages.

    Raises:
        NetworkConfigError: the directory exists without a generated network in it.
    """
    directory = state_dir / "network"
    created = not (directory / "network.json").exists()
    if created:
        password_file = state_dir / "network.password"
        if not password_file.exists():
            password_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(24) + "\n")
        say(f"network: generating {validators} QBFT validators in {directory}")
        spec = NetworkSpec(validators=validators, fund=tuple(demo_addresses()))
        init_network(directory, spec, password_file.read_text().strip(), scrypt_n=scrypt_n)
    network = load_network(directory)
    genesis = json.loads((directory / GENESIS_FILE).read_text())
    extra = str(genesis["extraData"])
    return NetworkConfigReport(
        directory=directory,
        created=created,
        chain_id=int(network["chain_id"]),
        nodes=tuple((n["name"], n["validator"], n["enode"]) for n in network["nodes"]),
        validators=tuple(network["validators"]),
        extra_data=extra,
        decoded=tuple(decode(extra).validators),
        besu=besu_version(),
    )
