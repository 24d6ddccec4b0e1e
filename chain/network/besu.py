"""Besu node configuration: config.toml, static nodes, permissions_config.toml, and the flags of
each permissioning path (on-chain contracts up to Besu 25.5.x, local allowlists from 25.6)."""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w
from eth_utils import is_hex_address, to_checksum_address

from chain.network.errors import NetworkConfigError

PERMISSIONS_FILE = "permissions_config.toml"
STATIC_NODES_FILE = "static-nodes.json"
CONFIG_FILE = "config.toml"
#: JSON-RPC APIs a consortium node serves to its operator (PERM: allowlists, QBFT: votes).
RPC_APIS = ("ETH", "NET", "WEB3", "QBFT", "ADMIN", "TXPOOL", "PERM")
#: Last Besu release with on-chain (smart-contract) permissioning; removed in 25.6.0.
LAST_ONCHAIN_PERMISSIONING_RELEASE = "25.5.x"


@dataclass(frozen=True)
class NodePorts:
    """Where one node listens."""

    p2p_host: str
    p2p_port: int
    rpc_port: int
    rpc_host: str = "127.0.0.1"


def node_config(
    ports: NodePorts, *, bootnodes: Sequence[str] | None = None, data_path: str = "data"
) -> dict[str, Any]:
    """``config.toml`` of one node, paths relative to the node's directory (Besu is started there).

    Local allowlists are on (the first start, and the only path from Besu 25.6); min gas price 0
    because the genesis has a zero base fee.
    """
    for port in (ports.p2p_port, ports.rpc_port):
        if not 0 < port < 65536:
            raise NetworkConfigError(f"port {port} is outside 1..65535")
    config: dict[str, Any] = {
        "data-path": data_path,
        "genesis-file": "../genesis.json",
        "node-private-key-file": "key",
        "p2p-host": ports.p2p_host,
        "p2p-port": ports.p2p_port,
        "rpc-http-enabled": True,
        "rpc-http-host": ports.rpc_host,
        "rpc-http-port": ports.rpc_port,
        "rpc-http-api": list(RPC_APIS),
        "host-allowlist": ["localhost", "127.0.0.1"],
        "min-gas-price": 0,
        "sync-mode": "FULL",
        "static-nodes-file": STATIC_NODES_FILE,
        "permissions-nodes-config-file-enabled": True,
        "permissions-nodes-config-file": PERMISSIONS_FILE,
        "permissions-accounts-config-file-enabled": True,
        "permissions-accounts-config-file": PERMISSIONS_FILE,
    }
    if bootnodes is not None:  # [] (the first node): no bootnode, rather than Besu's default list
        config["bootnodes"] = list(bootnodes)
    return config


def onchain_permissioning(registry: str, node_allowlist: str) -> dict[str, Any]:
    """Config keys of on-chain permissioning (Besu up to 25.5.x; deprecated in 24.12.0).

    Accounts: Besu calls ``transactionAllowed`` of the ConsortiumRegistry; nodes: the EEA v2
    interface ``connectionAllowed(string,string,uint16)`` of the NodeAllowlist.

    Raises:
        NetworkConfigError: a malformed address.
    """
    for what, address in (("registry", registry), ("node allowlist", node_allowlist)):
        if not is_hex_address(address):
            raise NetworkConfigError(f"{what} {address!r} is not an address")
    return {
        "permissions-accounts-contract-enabled": True,
        "permissions-accounts-contract-address": to_checksum_address(registry),
        "permissions-nodes-contract-enabled": True,
        "permissions-nodes-contract-address": to_checksum_address(node_allowlist),
        "permissions-nodes-contract-version": 2,
    }


def onchain_flags(registry: str, node_allowlist: str) -> list[str]:
    """The same as command-line flags."""
    flags = []
    for key, value in onchain_permissioning(registry, node_allowlist).items():
        flags.append(f"--{key}" if value is True else f"--{key}={value}")
    return flags


def permissions_config(accounts: Iterable[str], nodes: Iterable[str]) -> dict[str, list[str]]:
    """``permissions_config.toml``: ``accounts-allowlist`` (lowercase 0x-addresses, as Besu keeps
    them) and ``nodes-allowlist`` (enode URLs), sorted and deduplicated.

    Raises:
        NetworkConfigError: a malformed address.
    """
    checked = set()
    for account in accounts:
        if not is_hex_address(account):
            raise NetworkConfigError(f"{account!r} is not an address")
        checked.add(account.lower())
    return {"accounts-allowlist": sorted(checked), "nodes-allowlist": sorted(set(nodes))}


def write_toml(path: Path, data: dict[str, Any]) -> Path:
    """Write TOML atomically (a temporary file in the same directory, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            tomli_w.dump(data, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file.

    Raises:
        NetworkConfigError: missing or not TOML.
    """
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise NetworkConfigError(f"{path} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise NetworkConfigError(f"{path} is not valid TOML: {exc}") from None


def enable_onchain_permissioning(node_dir: Path, registry: str, node_allowlist: str) -> Path:
    """Switch a generated node to on-chain permissioning (Besu <= 25.5.x): add the contract keys
    to its ``config.toml`` and turn the local allowlists off. Restart the node afterwards."""
    path = node_dir / CONFIG_FILE
    config = read_toml(path)
    for key in (
        "permissions-nodes-config-file-enabled",
        "permissions-nodes-config-file",
        "permissions-accounts-config-file-enabled",
        "permissions-accounts-config-file",
    ):
        config.pop(key, None)
    config.update(onchain_permissioning(registry, node_allowlist))
    return write_toml(path, config)
