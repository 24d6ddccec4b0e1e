"""``ets network init``: a whole QBFT network in one directory: keys, genesis, per-node config."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chain.network.besu import (
    CONFIG_FILE,
    PERMISSIONS_FILE,
    STATIC_NODES_FILE,
    NodePorts,
    node_config,
    permissions_config,
    write_toml,
)
from chain.network.errors import NetworkConfigError
from chain.network.genesis import DEFAULT_BALANCE_WEI, GenesisSpec, QbftParams, build_genesis
from chain.network.keys import NodeKey, write_keystore, write_node_key

logger = logging.getLogger(__name__)

NETWORK_FILE = "network.json"
GENESIS_FILE = "genesis.json"
MAX_VALIDATORS = 64


@dataclass(frozen=True)
class NetworkSpec:
    """What ``ets network init`` generates.

    Attributes:
        validators: number of validator nodes (one per consortium member).
        chain_id: chain id.
        qbft: consensus parameters.
        accounts: number of pre-funded accounts to generate (encrypted keystores).
        fund: existing addresses to pre-fund (e.g. the deployer and governance members).
        balance_wei: balance of every pre-funded account.
        host: P2P host of every node (one machine; edit per node for several machines).
        p2p_port: first P2P port (node i listens on p2p_port + i).
        rpc_port: first JSON-RPC port.
    """

    validators: int = 4
    chain_id: int = 1337
    qbft: QbftParams = field(default_factory=QbftParams)
    accounts: int = 0
    fund: Sequence[str] = ()
    balance_wei: int = DEFAULT_BALANCE_WEI
    host: str = "127.0.0.1"
    p2p_port: int = 30303
    rpc_port: int = 8545


@dataclass(frozen=True)
class GeneratedNode:
    """Public facts of one generated node (its key stays in its directory)."""

    name: str
    directory: Path
    validator: str
    enode: str
    rpc_url: str


@dataclass(frozen=True)
class GeneratedNetwork:
    """What was written."""

    directory: Path
    chain_id: int
    nodes: tuple[GeneratedNode, ...]
    accounts: tuple[str, ...]
    genesis: dict[str, Any]

    @property
    def validators(self) -> list[str]:
        """Validator addresses in extraData order (ascending)."""
        return sorted((n.validator for n in self.nodes), key=lambda a: bytes.fromhex(a[2:]))


def init_network(
    out: Path, spec: NetworkSpec, password: str, *, scrypt_n: int | None = None
) -> GeneratedNetwork:
    """Generate keys, genesis.json and each node's config.toml, static-nodes.json and
    permissions_config.toml under ``out`` (which must be new or empty).

    Node keys are Besu's plain ``key`` files (mode 0600: Besu reads no encrypted node key); each
    is also kept as an encrypted V3 keystore (``validator.keystore.json``) for backup, and the
    generated accounts only as keystores. ``out/.gitignore`` ignores everything.

    Raises:
        NetworkConfigError: invalid spec, or ``out`` is not empty.
        KeyFileError: empty password.
    """
    if not 1 <= spec.validators <= MAX_VALIDATORS:
        raise NetworkConfigError(f"validators must be 1..{MAX_VALIDATORS}, got {spec.validators}")
    if spec.accounts < 0:
        raise NetworkConfigError("accounts must not be negative")
    if out.exists() and any(out.iterdir()):
        raise NetworkConfigError(f"{out} is not empty; choose a new directory")
    if not password:
        raise NetworkConfigError("a keystore password is needed (validator and account keystores)")
    out.mkdir(parents=True, exist_ok=True)
    (out / ".gitignore").write_text("# generated network: keys and keystores; never commit\n*\n")

    keys = [NodeKey.generate() for _ in range(spec.validators)]
    names = [f"node-{i + 1}" for i in range(spec.validators)]
    enodes = [k.enode(spec.host, spec.p2p_port + i) for i, k in enumerate(keys)]

    accounts: list[str] = []
    for i in range(spec.accounts):
        account_key = NodeKey.generate().private_key
        path = out / "accounts" / f"account-{i + 1}.keystore.json"
        accounts.append(write_keystore(account_key, password, path, scrypt_n=scrypt_n))
    funded = [*accounts, *spec.fund]
    genesis = build_genesis(
        GenesisSpec(
            chain_id=spec.chain_id,
            validators=[k.address for k in keys],
            alloc=dict.fromkeys(funded, spec.balance_wei),
            qbft=spec.qbft,
        )
    )
    (out / GENESIS_FILE).write_text(json.dumps(genesis, indent=2) + "\n")

    allowlist = permissions_config(funded, enodes)
    nodes = []
    for i, (name, key) in enumerate(zip(names, keys, strict=True)):
        node_dir = out / name
        write_node_key(key, node_dir)
        write_keystore(key.private_key, password, node_dir / "validator.keystore.json", scrypt_n=scrypt_n)
        ports = NodePorts(p2p_host=spec.host, p2p_port=spec.p2p_port + i, rpc_port=spec.rpc_port + i)
        peers = [e for j, e in enumerate(enodes) if j != i]
        write_toml(node_dir / CONFIG_FILE, node_config(ports, bootnodes=enodes[:1] if i else []))
        (node_dir / STATIC_NODES_FILE).write_text(json.dumps(peers, indent=2) + "\n")
        write_toml(node_dir / PERMISSIONS_FILE, allowlist)
        nodes.append(
            GeneratedNode(name, node_dir, key.address, enodes[i], f"http://127.0.0.1:{ports.rpc_port}")
        )
        logger.info("node generated", extra={"node": name, "validator": key.address})

    network = GeneratedNetwork(out, spec.chain_id, tuple(nodes), tuple(accounts), genesis)
    description = {
        "chain_id": spec.chain_id,
        "validators": network.validators,
        "nodes": [
            {"name": n.name, "validator": n.validator, "enode": n.enode, "rpc_url": n.rpc_url} for n in nodes
        ],
        "accounts": list(accounts),
        "funded": [*funded],
    }
    (out / NETWORK_FILE).write_text(json.dumps(description, indent=2) + "\n")
    return network


def load_network(directory: Path) -> dict[str, Any]:
    """The public description (``network.json``) of a generated network.

    Raises:
        NetworkConfigError: not a generated network directory.
    """
    try:
        data: dict[str, Any] = json.loads((directory / NETWORK_FILE).read_text())
    except FileNotFoundError:
        raise NetworkConfigError(f"{directory} has no {NETWORK_FILE} (run `ets network init`)") from None
    except ValueError as exc:
        raise NetworkConfigError(f"{directory / NETWORK_FILE} is malformed: {exc}") from None
    return data
