"""Besu permissioning contracts on a real Anvil: the registry's `transactionAllowed` (accounts) and
the NodeAllowlist's `connectionAllowed` (nodes, EEA v2), called as Besu calls them."""

from __future__ import annotations

import pytest
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import function_signature_to_4byte_selector, keccak
from web3.logs import DISCARD

from chain.accounts import dev_account
from chain.network.allowlist import NodeAllowlistClient
from chain.network.keys import Enode, NodeKey
from tests.conftest import Consortium
from tests.utils.chain import register, reverts

TX_ALLOWED = "transactionAllowed(address,address,uint256,uint256,uint256,bytes)"
CONNECTION_ALLOWED = "connectionAllowed(string,string,uint16)"
NODE = Enode(NodeKey.generate().node_id, "10.0.0.5", 30303)


def _besu_transaction_allowed(c: Consortium, sender: str) -> bool:
    """The eth_call Besu (<= 25.5.x) makes for every transaction: raw calldata, bool result."""
    args = abi_encode(
        ["address", "address", "uint256", "uint256", "uint256", "bytes"],
        [sender, c.outsider.address, 0, 0, 21_000, b""],
    )
    data = function_signature_to_4byte_selector(TX_ALLOWED) + args
    out = c.chain.w3.eth.call({"to": c.registry.address, "data": data})
    return bool(abi_decode(["bool"], out)[0])


def _besu_connection_allowed(c: Consortium, enode: Enode) -> bool:
    """The eth_call of Besu's NodeSmartContractV2PermissioningController: unprefixed node id, the
    IP text hex-encoded with 0x, the listening port."""
    args = abi_encode(["string", "string", "uint16"], [enode.node_id, enode.besu_host, enode.port])
    data = function_signature_to_4byte_selector(CONNECTION_ALLOWED) + args
    out = c.chain.w3.eth.call({"to": _nodes(c).address, "data": data})
    return bool(abi_decode(["bool"], out)[0])


def _nodes(c: Consortium) -> NodeAllowlistClient:
    return NodeAllowlistClient(c.chain, c.manifest.address("NodeAllowlist"))


# ---------------------------------------------------------------------- accounts


def test_transaction_allowed_true_when_governance_member(fresh: Consortium) -> None:
    assert all(_besu_transaction_allowed(fresh, m.address) for m in fresh.members)


def test_transaction_allowed_true_when_active_participant(fresh: Consortium) -> None:
    enterprise = dev_account(25).address
    assert not _besu_transaction_allowed(fresh, enterprise)
    register(fresh.registry, fresh.members, enterprise, seed=25)
    assert _besu_transaction_allowed(fresh, enterprise)
    assert _besu_transaction_allowed(fresh, fresh.auditor.address)  # role holder, not an enterprise


def test_transaction_allowed_false_when_participant_suspended(fresh: Consortium) -> None:
    enterprise = dev_account(26).address
    register(fresh.registry, fresh.members, enterprise, seed=26)
    fresh.registry.govern(fresh.members, fresh.registry.encode_suspend(enterprise, 3), "suspend")
    assert not _besu_transaction_allowed(fresh, enterprise)
    fresh.registry.govern(fresh.members, fresh.registry.encode_reinstate(enterprise), "reinstate")
    assert _besu_transaction_allowed(fresh, enterprise)


def test_transaction_allowed_false_when_unknown_account(fresh: Consortium) -> None:
    assert not _besu_transaction_allowed(fresh, fresh.outsider.address)
    assert not _besu_transaction_allowed(fresh, "0x" + "00" * 20)


# ---------------------------------------------------------------------- nodes


def test_node_allowlist_deployed_with_suite_and_empty(fresh: Consortium) -> None:
    nodes = _nodes(fresh)
    assert nodes.chain.call(nodes.contract.functions.registry()) == fresh.registry.address
    assert nodes.nodes() == [] and not _besu_connection_allowed(fresh, NODE)


def test_allow_node_by_governance_then_besu_call_answers_true(fresh: Consortium) -> None:
    nodes = _nodes(fresh)
    receipt = nodes.govern_allow(fresh.registry, fresh.members, NODE)
    events = nodes.contract.events.NodeAllowed().process_receipt(receipt, errors=DISCARD)
    key = keccak(abi_encode(["string", "string", "uint16"], [NODE.node_id, NODE.besu_host, NODE.port]))
    assert [dict(e["args"]) for e in events] == [
        {"key": key, "enodeId": NODE.node_id, "host": NODE.host, "port": NODE.port}
    ]
    assert nodes.nodes() == [NODE]
    assert _besu_connection_allowed(fresh, NODE) and nodes.connection_allowed(NODE)
    assert not _besu_connection_allowed(fresh, Enode(NODE.node_id, "10.0.0.6", NODE.port))
    assert not _besu_connection_allowed(fresh, Enode(NODE.node_id, NODE.host, 30304))


def test_disallow_node_by_governance_keeps_the_others(fresh: Consortium) -> None:
    nodes = _nodes(fresh)
    others = [Enode(NodeKey.generate().node_id, f"10.0.1.{i}", 30303) for i in range(3)]
    for enode in others:
        nodes.govern_allow(fresh.registry, fresh.members, enode)
    receipt = nodes.govern_disallow(fresh.registry, fresh.members, others[0])
    assert len(nodes.contract.events.NodeDisallowed().process_receipt(receipt, errors=DISCARD)) == 1
    assert sorted(nodes.nodes(), key=str) == sorted(others[1:], key=str)
    assert not _besu_connection_allowed(fresh, others[0])
    assert all(_besu_connection_allowed(fresh, e) for e in others[1:])
    nodes.govern_disallow(fresh.registry, fresh.members, others[2])  # last entry: no swap
    assert nodes.nodes() == [others[1]] and _besu_connection_allowed(fresh, others[1])


@pytest.mark.parametrize("who", ["regulator", "exchange", "industry_body", "auditor", "outsider"])
def test_allow_and_disallow_refused_when_caller_not_governance(fresh: Consortium, who: str) -> None:
    caller: LocalAccount = {
        "regulator": fresh.regulator, "exchange": fresh.exchange, "industry_body": fresh.industry_body,
        "auditor": fresh.auditor, "outsider": fresh.outsider,
    }[who]  # fmt: skip
    nodes = _nodes(fresh)
    with reverts("NodeAllowlistOnlyGovernance", caller=caller.address):
        self_call_to(nodes, caller, nodes.encode_allow(NODE))
    nodes.govern_allow(fresh.registry, fresh.members, NODE)
    with reverts("NodeAllowlistOnlyGovernance", caller=caller.address):
        self_call_to(nodes, caller, nodes.encode_disallow(NODE))


def self_call_to(nodes: NodeAllowlistClient, caller: LocalAccount, data: bytes) -> None:
    """A governance-only call sent directly by ``caller``, not through a proposal (estimated: a
    revert surfaces as the decoded custom error)."""
    nodes.chain.estimate_gas(caller.address, nodes.address, data)
    raise AssertionError("governance-only call from a plain account did not revert")


def test_constructor_refused_when_registry_not_a_contract(fresh: Consortium) -> None:
    with reverts("NodeAllowlistInvalidRegistry", registry=fresh.outsider.address):
        fresh.chain.deploy("NodeAllowlist", [fresh.outsider.address], dev_account(0))


@pytest.mark.parametrize(
    ("enode_id", "host", "port", "error", "args"),
    [
        ("ab" * 63, "10.0.0.5", 30303, "NodeAllowlistInvalidEnodeId", {"enodeId": "ab" * 63}),
        ("AB" * 64, "10.0.0.5", 30303, "NodeAllowlistInvalidEnodeId", {"enodeId": "AB" * 64}),
        ("ab" * 64, "", 30303, "NodeAllowlistInvalidHost", {"host": ""}),
        ("ab" * 64, "1" * 46, 30303, "NodeAllowlistInvalidHost", {"host": "1" * 46}),
        ("ab" * 64, "10.0.0.5", 0, "NodeAllowlistInvalidPort", {"port": 0}),
    ],
)
def test_allow_node_refused_when_entry_malformed(
    fresh: Consortium, enode_id: str, host: str, port: int, error: str, args: dict[str, object]
) -> None:
    nodes = _nodes(fresh)
    data = bytes.fromhex(nodes.contract.encode_abi("allowNode", args=[enode_id, host, port])[2:])
    with reverts(error, **args):
        fresh.registry.propose(fresh.regulator, data, "bad node", target=nodes.address)  # preflight


def test_allow_node_refused_when_already_allowed_and_disallow_when_absent(fresh: Consortium) -> None:
    nodes = _nodes(fresh)
    with reverts("NodeAllowlistNotAllowed", enodeId=NODE.node_id, host=NODE.host, port=NODE.port):
        fresh.registry.propose(fresh.regulator, nodes.encode_disallow(NODE), "absent", target=nodes.address)
    nodes.govern_allow(fresh.registry, fresh.members, NODE)
    with reverts("NodeAllowlistAlreadyAllowed", enodeId=NODE.node_id, host=NODE.host, port=NODE.port):
        fresh.registry.propose(fresh.regulator, nodes.encode_allow(NODE), "again", target=nodes.address)
