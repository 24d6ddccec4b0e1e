"""Allowlists from the chain: the NodeAllowlist client, and ``sync-allowlist``, which keeps each
Besu node's local account and node allowlists (``perm_*`` RPC, ``permissions_config.toml``) in
step with the ConsortiumRegistry and the NodeAllowlist (Besu 25.6+, which has no on-chain
permissioning)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.types import RPCEndpoint, TxReceipt

from chain.client import ContractClient
from chain.errors import ChainError
from chain.network.besu import permissions_config, read_toml, write_toml
from chain.network.errors import AllowlistSyncError, NetworkConfigError
from chain.network.keys import Enode
from chain.registry import ROLE_NAMES, RegistryClient

logger = logging.getLogger(__name__)

#: Registry roles whose holders may transact when active (GOVERNOR holders are the members).
PARTICIPANT_ROLES = tuple(r for r in ROLE_NAMES if r != "GOVERNOR")
#: Besu refuses to remove a bootnode or static node from the nodes allowlist with this message.
FIXED_NODE_MESSAGE = "Cannot remove a fixed node"


class NodeAllowlistClient(ContractClient):
    """Typed client of the NodeAllowlist contract (changes go through registry governance)."""

    CONTRACT = "NodeAllowlist"

    def encode_allow(self, enode: Enode) -> bytes:
        """Calldata of ``allowNode`` for a governance proposal targeting this contract."""
        return self._encode("allowNode", enode)

    def encode_disallow(self, enode: Enode) -> bytes:
        """Calldata of ``disallowNode`` for a governance proposal targeting this contract."""
        return self._encode("disallowNode", enode)

    def _encode(self, fn: str, enode: Enode) -> bytes:
        data = self.contract.encode_abi(fn, args=[enode.node_id, enode.host, enode.port])
        return bytes.fromhex(data[2:])

    def govern_allow(self, registry: RegistryClient, members: Sequence[Any], enode: Enode) -> TxReceipt:
        """Propose, approve and execute ``allowNode`` (demo and tests; members act on their own
        in production)."""
        return registry.govern(
            members, self.encode_allow(enode), f"allow node {enode.url}", target=self.address
        )

    def govern_disallow(self, registry: RegistryClient, members: Sequence[Any], enode: Enode) -> TxReceipt:
        """Propose, approve and execute ``disallowNode``."""
        desc = f"disallow node {enode.url}"
        return registry.govern(members, self.encode_disallow(enode), desc, target=self.address)

    def nodes(self) -> list[Enode]:
        """Every allowed node."""
        return [
            Enode(str(n[0]), str(n[1]), int(n[2])) for n in self.chain.call(self.contract.functions.nodes())
        ]

    def connection_allowed(self, enode: Enode) -> bool:
        """What Besu's v2 node permissioning would be told for ``enode``."""
        fn = self.contract.functions.connectionAllowed(enode.node_id, enode.besu_host, enode.port)
        return bool(self.chain.call(fn))


@dataclass(frozen=True)
class Allowlists:
    """An account allowlist (lowercase addresses) and a node allowlist (enode URLs)."""

    accounts: frozenset[str] = frozenset()
    nodes: frozenset[str] = frozenset()

    @classmethod
    def of(cls, accounts: Iterable[str], nodes: Iterable[str]) -> Allowlists:
        """Normalised lists: lowercase addresses, canonical enode URLs (no discport)."""
        return cls(frozenset(a.lower() for a in accounts), frozenset(Enode.parse(n).url for n in nodes))


@dataclass(frozen=True)
class AllowlistDiff:
    """What to change on a node so that its allowlists become the desired ones."""

    add_accounts: tuple[str, ...] = ()
    remove_accounts: tuple[str, ...] = ()
    add_nodes: tuple[str, ...] = ()
    remove_nodes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.add_accounts or self.remove_accounts or self.add_nodes or self.remove_nodes)

    @classmethod
    def between(cls, current: Allowlists, desired: Allowlists) -> AllowlistDiff:
        return cls(
            tuple(sorted(desired.accounts - current.accounts)),
            tuple(sorted(current.accounts - desired.accounts)),
            tuple(sorted(desired.nodes - current.nodes)),
            tuple(sorted(current.nodes - desired.nodes)),
        )


def desired_allowlists(
    registry: RegistryClient,
    node_allowlist: NodeAllowlistClient | None,
    *,
    extra_accounts: Iterable[str] = (),
    extra_nodes: Iterable[str] = (),
) -> Allowlists:
    """The allowlists the chain says every node should hold: accounts that ``transactionAllowed``
    accepts (governance members and active participants of every role) plus ``extra_accounts``;
    nodes of the NodeAllowlist plus ``extra_nodes``."""
    candidates = set(registry.members())
    for role in PARTICIPANT_ROLES:
        candidates.update(registry.role_members(role))
    accounts = {a for a in candidates if registry.transaction_allowed(a)}
    accounts.update(extra_accounts)
    nodes = [n.url for n in node_allowlist.nodes()] if node_allowlist is not None else []
    return Allowlists.of(accounts, [*nodes, *extra_nodes])


class PermRpc:
    """The ``perm_*`` JSON-RPC methods of one Besu node (``--rpc-http-api`` must include PERM)."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.url = url
        self._provider = Web3.HTTPProvider(url, request_kwargs={"timeout": timeout})

    def _call(self, method: str, params: list[Any]) -> Any:
        try:
            response = self._provider.make_request(RPCEndpoint(method), params)
        except OSError as exc:
            raise AllowlistSyncError(f"{self.url}: {method} failed: {exc}") from None
        error = response.get("error")
        if error:
            message = error.get("message", error) if isinstance(error, dict) else error
            raise AllowlistSyncError(f"{self.url}: {method}: {message}")
        return response.get("result")

    def current(self) -> Allowlists:
        """The node's allowlists (``perm_getAccountsAllowlist``, ``perm_getNodesAllowlist``)."""
        accounts = self._call("perm_getAccountsAllowlist", [])
        nodes = self._call("perm_getNodesAllowlist", [])
        return Allowlists.of(accounts or [], nodes or [])

    def apply(self, diff: AllowlistDiff) -> None:
        """Apply ``diff`` (Besu refuses empty lists, so empty parts are skipped). A bootnode or
        static node Besu refuses to remove is logged and left in place."""
        if diff.remove_accounts:
            self._call("perm_removeAccountsFromAllowlist", [list(diff.remove_accounts)])
        if diff.add_accounts:
            self._call("perm_addAccountsToAllowlist", [list(diff.add_accounts)])
        if diff.add_nodes:
            self._call("perm_addNodesToAllowlist", [list(diff.add_nodes)])
        for node in diff.remove_nodes:  # one at a time: a fixed node must not block the others
            try:
                self._call("perm_removeNodesFromAllowlist", [[node]])
            except AllowlistSyncError as exc:
                if FIXED_NODE_MESSAGE not in str(exc):
                    raise
                logger.warning(
                    "fixed node kept in the allowlist", extra={"node_url": self.url, "enode": node}
                )


def write_permissions_file(path: Path, desired: Allowlists) -> bool:
    """Write ``desired`` to a node's ``permissions_config.toml`` atomically, keeping other keys;
    returns False (nothing written) when the file already says the same."""
    data: dict[str, Any] = read_toml(path) if path.exists() else {}
    current = Allowlists.of(data.get("accounts-allowlist", []), data.get("nodes-allowlist", []))
    if current == desired:
        return False
    data.update(permissions_config(desired.accounts, desired.nodes))
    write_toml(path, data)
    return True


@dataclass
class SyncTarget:
    """One node to keep in step: its JSON-RPC (running node) and/or its permissions file
    (a stopped node, or before the first start)."""

    rpc_url: str | None = None
    permissions_file: Path | None = None

    def __post_init__(self) -> None:
        if self.rpc_url is None and self.permissions_file is None:
            raise NetworkConfigError("a sync target needs an RPC URL or a permissions file")


@dataclass
class SyncReport:
    """What one pass changed, per target."""

    block: int
    desired: Allowlists
    changes: dict[str, AllowlistDiff] = field(default_factory=dict)
    files_written: list[Path] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)


class AllowlistSync:
    """Follows the registry's and the NodeAllowlist's events and brings every target's
    allowlists to what the chain says, re-reading the chain's state at each batch of events
    (state is the truth; events only say when to look).

    Args:
        registry: the ConsortiumRegistry client.
        node_allowlist: the NodeAllowlist client (None: accounts only).
        targets: nodes to keep in step.
        extra_accounts: accounts always allowed (e.g. the deployer of the suite).
        extra_nodes: enodes always allowed (e.g. bootnodes not in the contract).
    """

    def __init__(
        self,
        registry: RegistryClient,
        node_allowlist: NodeAllowlistClient | None,
        targets: Sequence[SyncTarget],
        *,
        extra_accounts: Iterable[str] = (),
        extra_nodes: Iterable[str] = (),
    ) -> None:
        self.registry = registry
        self.node_allowlist = node_allowlist
        self.targets = list(targets)
        self.extra_accounts = tuple(extra_accounts)
        self.extra_nodes = tuple(extra_nodes)
        self.last_block: int | None = None

    @property
    def _addresses(self) -> list[str]:
        addresses: list[str] = [self.registry.address]
        if self.node_allowlist is not None:
            addresses.append(self.node_allowlist.address)
        return addresses

    def changed_since(self, head: int) -> bool:
        """Whether either contract logged an event in (last_block, head]."""
        if self.last_block is None:
            return True
        if head <= self.last_block:
            return False
        logs = self.registry.chain.w3.eth.get_logs(
            {"fromBlock": self.last_block + 1, "toBlock": head, "address": self._addresses}  # type: ignore[typeddict-item]
        )
        return bool(logs)

    def sync_once(self, *, force: bool = False) -> SyncReport | None:
        """One pass: if anything changed since the last pass (or ``force``), bring every target
        in step. A target that fails is reported and retried on the next pass (the checkpoint
        only moves when every target succeeded)."""
        head = int(self.registry.chain.w3.eth.block_number)
        if not force and not self.changed_since(head):
            return None
        desired = desired_allowlists(
            self.registry,
            self.node_allowlist,
            extra_accounts=self.extra_accounts,
            extra_nodes=self.extra_nodes,
        )
        report = SyncReport(block=head, desired=desired)
        for target in self.targets:
            name = target.rpc_url or str(target.permissions_file)
            try:
                if target.rpc_url is not None:
                    rpc = PermRpc(target.rpc_url)
                    diff = AllowlistDiff.between(rpc.current(), desired)
                    rpc.apply(diff)
                    report.changes[name] = diff
                if target.permissions_file is not None and write_permissions_file(
                    target.permissions_file, desired
                ):
                    report.files_written.append(target.permissions_file)
            except (AllowlistSyncError, NetworkConfigError) as exc:
                report.failures[name] = str(exc)
                logger.error("allowlist sync failed", extra={"node_url": name, "error": str(exc)})
        if not report.failures:
            self.last_block = head
        logger.info(
            "allowlists synced",
            extra={"block": head, "accounts": len(desired.accounts), "nodes": len(desired.nodes)},
        )
        return report

    def run(
        self,
        *,
        interval: float = 2.0,
        stop: Callable[[], bool] = lambda: False,
        on_report: Callable[[SyncReport], None] | None = None,
    ) -> None:
        """Sync until ``stop()`` says so, polling every ``interval`` seconds."""
        while not stop():
            try:
                report = self.sync_once()
            except (ChainError, OSError) as exc:  # the chain node is down: retry next poll
                logger.warning("chain unavailable; retrying", extra={"error": str(exc)})
                report = None
            if report is not None and on_report is not None:
                on_report(report)
            time.sleep(interval)
