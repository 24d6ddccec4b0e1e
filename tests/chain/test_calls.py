"""Calls by name for wallet users: catalogue, JSON argument checks, encoding equal to web3's,
unsigned builds, raw-transaction decoding and the same-call check, against a real Anvil."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rlp
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from chain.accounts import dev_account
from chain.calls import (
    CallCatalog,
    EncodedCall,
    ParamSpec,
    RawTransaction,
    check_same_call,
    decode_raw_transaction,
)
from chain.compile import Artifact
from chain.errors import CallInputError, DeploymentError, RawTransactionError
from chain.tx import ChainClient
from domain.tokens import Kind, encode_id
from tests.conftest import Consortium
from tests.utils.chain import profile, register, reverts

CO2_2027 = encode_id(Kind.ALLOWANCE, "CO2", 2027)
E1, E2 = dev_account(20), dev_account(21)
ADDR = "0x" + "ab" * 20
ADDR_CHECKSUMMED = Web3.to_checksum_address(ADDR)
CHAIN_ID = 31337


@pytest.fixture
def market(fresh: Consortium) -> Consortium:
    """Two registered enterprises with CO2 2027 allowances: E1 600, E2 400."""
    for i, e in enumerate((E1, E2)):
        register(fresh.registry, fresh.members, e.address, seed=300 + i)
    fresh.allowance.set_cap(fresh.regulator, CO2_2027, 1_000_000)
    fresh.allowance.allocate(fresh.regulator, CO2_2027, [E1.address, E2.address], [600, 400], b"\x01" * 32)
    return fresh


def _catalog(c: Consortium) -> CallCatalog:
    return CallCatalog(c.chain, {name: record.address for name, record in c.manifest.contracts.items()})


@pytest.fixture
def catalog(consortium: Consortium) -> CallCatalog:
    return _catalog(consortium)


def _function(name: str, inputs: list[dict[str, Any]], mutability: str = "nonpayable") -> dict[str, Any]:
    return {"type": "function", "name": name, "inputs": inputs, "outputs": [], "stateMutability": mutability}


#: A contract that exists only as an ABI: overloads, a fixed-size array, unnamed and payable inputs.
TOY_ABI = [
    _function("put", [{"name": "id", "type": "uint256"}]),
    _function("put", [{"name": "who", "type": "address"}, {"name": "id", "type": "uint256"}]),
    _function("triple", [{"name": "xs", "type": "uint8[3]"}]),
    _function("anon", [{"name": "", "type": "uint256"}, {"name": "", "type": "bool"}]),
    _function("deposit", [], "payable"),
    _function("peek", [], "view"),
]
TOY_ADDRESS = "0x" + "12" * 20


@pytest.fixture
def toy() -> CallCatalog:
    artifact = Artifact(
        "Toy", "Toy.sol", TOY_ABI, "0x", "0x", {}, {"methods": {"deposit()": {"notice": "Pay in."}}}
    )
    return CallCatalog(ChainClient(Web3(), {"Toy": artifact}), {"Toy": TOY_ADDRESS})


def _transfer(catalog: CallCatalog, amount: int | str, to: str = E2.address) -> EncodedCall:
    args = {"from": E1.address, "to": to, "id": CO2_2027, "value": amount, "data": "0x"}
    return catalog.encode("AllowanceToken", "safeTransferFrom", args)


def _sign(account: LocalAccount, tx: dict[str, Any], **changes: Any) -> RawTransaction:
    unsigned = {k: v for k, v in {**tx, **changes}.items() if k != "from" and v is not None}
    return decode_raw_transaction(bytes(account.sign_transaction(unsigned).raw_transaction))


# ---------------------------------------------------------------------- catalogue


def test_actions_lists_state_changing_functions_without_views(catalog: CallCatalog) -> None:
    actions = catalog.actions()
    keys = [(a.contract, a.function) for a in actions]
    assert keys == sorted(keys)
    transfer = catalog.action("AllowanceToken", "safeTransferFrom")
    assert transfer in actions
    assert transfer.signature == "safeTransferFrom(address,address,uint256,uint256,bytes)"
    assert transfer.selector == "0xf242432a" and not transfer.payable
    assert [p.name for p in transfer.inputs] == ["from", "to", "id", "value", "data"]
    names = {(a.contract, a.function) for a in actions}
    assert ("AllowanceToken", "balanceOf") not in names and ("ConsortiumRegistry", "hasRole") not in names
    assert ("ConsortiumRegistry", "registerEnterprise") in names and ("SealedBidAuction", "commit") in names


def test_action_carries_notice_and_tuple_components_from_artifact(catalog: CallCatalog) -> None:
    allocate = catalog.action("AllowanceToken", "allocate")
    assert allocate.notice == "Mint allocations to many enterprises in one call."
    register_ = catalog.action(
        "ConsortiumRegistry", "registerEnterprise(address,(string,string,uint32,string,int32,int32))"
    )
    profile_spec = register_.inputs[1]
    assert profile_spec.type == "tuple" and profile_spec.name == "profile"
    assert [c.name for c in profile_spec.components][:2] == ["creditCode", "name"]
    assert catalog.action("AllowanceToken", "safeTransferFrom").notice == ""


def test_action_refuses_unknown_contract_function_or_view(catalog: CallCatalog) -> None:
    with pytest.raises(CallInputError, match=r"unknown contract 'Nope'.*AllowanceToken"):
        catalog.action("Nope", "allocate")
    with pytest.raises(CallInputError, match="AllowanceToken has no function 'mintEverything'"):
        catalog.action("AllowanceToken", "mintEverything")
    with pytest.raises(CallInputError, match="balanceOf is a view"):
        catalog.action("AllowanceToken", "balanceOf")
    with pytest.raises(CallInputError, match=r"no function 'allocate\(uint256\)'"):
        catalog.action("AllowanceToken", "allocate(uint256)")


def test_action_refuses_overloaded_name_listing_signatures(toy: CallCatalog) -> None:
    with pytest.raises(
        CallInputError, match=r"^Toy.put is overloaded; name one of: put\(address,uint256\), put\(uint256\)$"
    ):
        toy.action("Toy", "put")
    assert toy.action("Toy", "put(address,uint256)").inputs[0] == ParamSpec("who", "address")
    assert [a.signature for a in toy.actions()] == [
        "anon(uint256,bool)", "deposit()", "put(address,uint256)", "put(uint256)", "triple(uint8[3])",
    ]  # fmt: skip
    assert toy.action("Toy", "deposit").payable and toy.action("Toy", "deposit").notice == "Pay in."


def test_catalog_refuses_contract_without_artifact(consortium: Consortium) -> None:
    with pytest.raises(DeploymentError, match="Ghost"):
        CallCatalog(consortium.chain, {"Ghost": ADDR})


# ---------------------------------------------------------------------- encoding

PROFILE = profile(7)
WEB3_CASES: list[tuple[str, str, dict[str, Any], list[Any]]] = [
    (
        "AllowanceToken", "allocate",
        {"id": str(CO2_2027), "recipients": [ADDR, E1.address], "amounts": [1, "2"],
         "batchRef": "0x" + "07" * 32},
        [CO2_2027, [ADDR_CHECKSUMMED, E1.address], [1, 2], b"\x07" * 32],
    ),
    (
        "AllowanceToken", "safeTransferFrom",
        {"from": E1.address, "to": E2.address, "id": CO2_2027, "value": 5, "data": "0xdeadbeef"},
        [E1.address, E2.address, CO2_2027, 5, b"\xde\xad\xbe\xef"],
    ),
    (
        "ConsortiumRegistry", "registerEnterprise",
        {"account": ADDR, "profile": {
            "creditCode": PROFILE.credit_code, "name": "株式会社 Plant", "regionCode": 331000,
            "industryCode": "D4411", "latitude": -28_656_000, "longitude": 121_420_000,
        }},
        [ADDR_CHECKSUMMED,
         (PROFILE.credit_code, "株式会社 Plant", 331000, "D4411", -28_656_000, 121_420_000)],
    ),
    (
        "ConsortiumRegistry", "multicall",
        {"data": ["0x01", "0x", "0x" + "ff" * 40]},
        [[b"\x01", b"", b"\xff" * 40]],
    ),
    (
        "SealedBidAuction", "commit",
        {"auctionId": 3, "commitment": "0x" + "aa" * 32, "guarantee": 10**30,
         "eligibilityProof": ["0x" + "bb" * 32]},
        [3, b"\xaa" * 32, 10**30, [b"\xbb" * 32]],
    ),
    (
        "SealedBidAuction", "submitClearing",
        {"auctionId": 1, "claim": [5, 100, "7"], "maxBidders": 50},
        [1, (5, 100, 7), 50],
    ),
    (
        "EmissionsLedger", "anchorBatch",
        {"b": {
            "batchId": "0x" + "01" * 32, "device": ADDR, "firstSequence": 1, "lastSequence": 9,
            "periodStart": 1_700_000_000, "periodEnd": 1_700_003_600, "count": 9, "root": "0x" + "02" * 32,
            "totals": "0x000100000000" + "53" * 8 + "6b" * 8 + "ff" * 15 + "f4" + "03",
        }},
        [(b"\x01" * 32, ADDR_CHECKSUMMED, 1, 9, 1_700_000_000, 1_700_003_600, 9, b"\x02" * 32,
          bytes.fromhex("000100000000" + "53" * 8 + "6b" * 8 + "ff" * 15 + "f4" + "03"))],
    ),
    (
        "AllowanceToken", "setApprovalForAll", {"operator": ADDR, "approved": True}, [ADDR_CHECKSUMMED, True],
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("contract", "function", "args", "web3_args"), WEB3_CASES, ids=[c[1] for c in WEB3_CASES]
)
def test_encode_equals_web3_encoding_for_each_type(
    consortium: Consortium,
    catalog: CallCatalog,
    contract: str,
    function: str,
    args: dict[str, Any],
    web3_args: list[Any],
) -> None:
    address = consortium.manifest.address(contract)
    web3_fn = consortium.chain.contract(contract, address).functions[function](*web3_args)
    call = catalog.encode(contract, function, args)
    assert call.data == bytes.fromhex(web3_fn._encode_transaction_data()[2:])
    assert call.to == address and call.value == 0 and call.contract == contract and call.function == function
    # the same call given as a list, and its calldata decoded back, give the same normalized arguments
    assert catalog.encode(contract, function, list(args.values())).data == call.data
    spec, decoded = catalog.describe(address.lower(), call.data)
    assert spec == catalog.action(contract, function) and decoded == call.args
    json.dumps(call.args)


def test_encode_normalizes_args_to_json(catalog: CallCatalog) -> None:
    call = catalog.encode("AllowanceToken", "allocate", [str(CO2_2027), [ADDR], ["10"], "0x" + "AB" * 32])
    assert call.args == {
        "id": CO2_2027,
        "recipients": [ADDR_CHECKSUMMED],
        "amounts": [10],
        "batchRef": "0x" + "ab" * 32,
    }
    assert call.signature == "allocate(uint256,address[],uint256[],bytes32)"


def test_encode_accepts_fixed_arrays_unnamed_params_and_value_when_payable(toy: CallCatalog) -> None:
    assert toy.encode("Toy", "triple", {"xs": [1, 2, 255]}).args == {"xs": [1, 2, 255]}
    assert toy.encode("Toy", "anon", {"arg0": 1, "arg1": False}).args == {"arg0": 1, "arg1": False}
    assert toy.encode("Toy", "deposit", {}, value=10**18).value == 10**18
    assert toy.encode("Toy", "put(uint256)", [1]).data[:4] == bytes.fromhex(
        toy.action("Toy", "put(uint256)").selector[2:]
    )


AT, CR, EL = "AllowanceToken", "ConsortiumRegistry", "EmissionsLedger"
BAD_ADDRESS = "0x" + E1.address[2:].swapcase()  # mixed case, checksum wrong
BAD_CASES: list[tuple[str, str, dict[str, Any], str]] = [
    (AT, "allocate", {"amounts": [1, 2, 3, -5]}, "args.amounts[3]: -5 is not a uint256"),
    (AT, "allocate", {"amounts": [1.5]}, "args.amounts[0]: 1.5 is not a uint256"),
    (AT, "allocate", {"amounts": [True]}, "args.amounts[0]: true is not a uint256"),
    (AT, "allocate", {"amounts": ["0x10"]}, 'args.amounts[0]: "0x10" is not a uint256'),
    (AT, "allocate", {"amounts": [" 1"]}, 'args.amounts[0]: " 1" is not a uint256'),
    (AT, "allocate", {"id": 2**256}, f"args.id: {2**256} is not a uint256 (out of range"),
    (AT, "allocate", {"amounts": "5"}, 'args.amounts: "5" is not a list'),
    (AT, "allocate", {"recipients": [ADDR[:-2]]}, f'args.recipients[0]: "{ADDR[:-2]}" is not an address'),
    (AT, "allocate", {"recipients": [7]}, "args.recipients[0]: 7 is not an address"),
    (AT, "allocate", {"recipients": [BAD_ADDRESS]}, f"args.recipients[0]: {BAD_ADDRESS} has a bad checksum"),
    (AT, "allocate", {"batchRef": "0x" + "01" * 31}, f'args.batchRef: "0x{"01" * 31}" is not a bytes32 (31'),
    (AT, "allocate", {"batchRef": "0x" + "zz" * 32}, f'args.batchRef: "0x{"zz" * 32}" is not a bytes32'),
    (AT, "allocate", {"batchRef": "01" * 32}, f'args.batchRef: "{"01" * 32}" is not a bytes32'),
    (AT, "freeze", {"reasonCode": 65536}, "args.reasonCode: 65536 is not a uint16"),
    (AT, "setApprovalForAll", {"approved": 1}, "args.approved: 1 is not a bool"),
    (AT, "setApprovalForAll", {"approved": "true"}, 'args.approved: "true" is not a bool'),
    (AT, "safeTransferFrom", {"data": "0xabc"}, 'args.data: "0xabc" is not a bytes'),
    (AT, "addPollutant", {"symbol": 5}, "args.symbol: 5 is not a string"),
    (AT, "addPollutant", {"symbol": "\ud800"}, "args.symbol: string is not valid Unicode"),
    (CR, "updateEnterprise", {"latitude": 2**31}, "args.latitude: 2147483648 is not an int32"),
    (CR, "updateEnterprise", {"longitude": -(2**31) - 1}, "args.longitude: -2147483649 is not an int32"),
    (CR, "registerEnterprise", {"profile": {"nickname": "x"}}, "args.profile: unknown nickname"),
    (CR, "registerEnterprise", {"profile": ["a", "b"]}, "args.profile: expected 6 values"),
    (CR, "registerEnterprise", {"profile": 5}, "args.profile: 5 is neither an object"),
    (EL, "anchorBatch", {"b": {"count": -1}}, "args.b.count: -1 is not a uint32"),
    (EL, "anchorBatch", {"b": {"totals": "0xz1"}}, 'args.b.totals: "0xz1" is not'),
]  # fmt: skip
VALID_ARGS: dict[tuple[str, str], dict[str, Any]] = {
    ("AllowanceToken", "allocate"): {
        "id": 1, "recipients": [ADDR], "amounts": [1], "batchRef": "0x" + "00" * 32,
    },
    ("AllowanceToken", "freeze"): {"holder": ADDR, "id": 1, "reasonCode": 1},
    ("AllowanceToken", "setApprovalForAll"): {"operator": ADDR, "approved": True},
    ("AllowanceToken", "safeTransferFrom"): {"from": ADDR, "to": ADDR, "id": 1, "value": 1, "data": "0x"},
    ("AllowanceToken", "addPollutant"): {"code": 9, "symbol": "CH4"},
    ("ConsortiumRegistry", "updateEnterprise"): {
        "account": ADDR, "name": "n", "regionCode": 1, "industryCode": "D", "latitude": 0, "longitude": 0,
    },
    ("ConsortiumRegistry", "registerEnterprise"): {
        "account": ADDR,
        "profile": {
            "creditCode": "c", "name": "n", "regionCode": 1, "industryCode": "D",
            "latitude": 0, "longitude": 0,
        },
    },
    ("EmissionsLedger", "anchorBatch"): {"b": {
        "batchId": "0x" + "00" * 32, "device": ADDR, "firstSequence": 1, "lastSequence": 1, "periodStart": 0,
        "periodEnd": 1, "count": 1, "root": "0x" + "00" * 32, "totals": "0x000000000000",
    }},
}  # fmt: skip


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` applied; nested dicts, and lists of dicts item by item, merged."""
    out = dict(base)
    for key, value in override.items():
        old = base.get(key)
        if isinstance(value, dict) and value and isinstance(old, dict):
            out[key] = _merged(old, value)
        elif (
            isinstance(value, list)
            and value
            and all(isinstance(v, dict) for v in value)
            and isinstance(old, list)
        ):
            out[key] = [_merged(o, v) for o, v in zip(old, value, strict=True)]
        else:
            out[key] = value
    return out


@pytest.mark.parametrize(
    ("contract", "function", "override", "message"), BAD_CASES, ids=[c[3][:40] for c in BAD_CASES]
)
def test_encode_refuses_value_not_fitting_type_naming_path(
    catalog: CallCatalog, contract: str, function: str, override: dict[str, Any], message: str
) -> None:
    valid = VALID_ARGS[(contract, function)]
    catalog.encode(contract, function, valid)  # the base is valid: only the override is wrong
    with pytest.raises(CallInputError) as info:
        catalog.encode(contract, function, _merged(valid, override))
    assert str(info.value).startswith(f"{contract}.{function}: {message}"), str(info.value)


def test_encode_refuses_bad_args_shape(catalog: CallCatalog, toy: CallCatalog) -> None:
    valid = VALID_ARGS[("AllowanceToken", "freeze")]
    with pytest.raises(CallInputError, match=r"^AllowanceToken.freeze: args: missing reasonCode$"):
        catalog.encode("AllowanceToken", "freeze", {"holder": ADDR, "id": 1})
    with pytest.raises(CallInputError, match=r"^AllowanceToken.freeze: args: unknown reason "):
        catalog.encode("AllowanceToken", "freeze", {**valid, "reason": 1})
    with pytest.raises(CallInputError, match=r"args: expected 3 values \(holder, id, reasonCode\), got 4"):
        catalog.encode("AllowanceToken", "freeze", [ADDR, 1, 1, 1])
    with pytest.raises(CallInputError, match=r"args: .* is neither an object by name nor a list"):
        catalog.encode("AllowanceToken", "freeze", "holder=0x")
    with pytest.raises(
        CallInputError, match=r"^Toy.triple: args.xs: expected 3 items \(uint8\[3\]\), got 2$"
    ):
        toy.encode("Toy", "triple", {"xs": [1, 2]})
    with pytest.raises(CallInputError, match=r"^Toy.triple: args.xs\[2\]: 256 is not a uint8"):
        toy.encode("Toy", "triple", {"xs": [1, 2, 256]})
    with pytest.raises(CallInputError, match="args: missing arg1"):
        toy.encode("Toy", "anon", {"arg0": 1})
    partial = {"name": "x", "industryCode": "D", "latitude": 0, "longitude": 0}
    with pytest.raises(
        CallInputError,
        match=r"^ConsortiumRegistry.registerEnterprise: args.profile: missing creditCode, regionCode$",
    ):
        catalog.encode("ConsortiumRegistry", "registerEnterprise", {"account": ADDR, "profile": partial})


def test_encode_refuses_value_when_not_payable_or_negative(catalog: CallCatalog, toy: CallCatalog) -> None:
    with pytest.raises(CallInputError, match=r"AllowanceToken.freeze: the function is not payable"):
        catalog.encode("AllowanceToken", "freeze", VALID_ARGS[("AllowanceToken", "freeze")], value=1)
    with pytest.raises(CallInputError, match=r"Toy.deposit: value -1 is not a uint256"):
        toy.encode("Toy", "deposit", [], value=-1)


def test_describe_refuses_unknown_target_selector_or_bad_arguments(
    consortium: Consortium, catalog: CallCatalog
) -> None:
    call = _transfer(catalog, 5)
    with pytest.raises(CallInputError, match="not a known action"):
        catalog.describe(ADDR, call.data)
    with pytest.raises(CallInputError, match="not a known action"):
        catalog.describe(call.to, b"\x00\x00\x00\x00" + call.data[4:])
    with pytest.raises(CallInputError, match="do not decode"):
        catalog.describe(call.to, call.data[:40])
    with pytest.raises(CallInputError, match="not canonically encoded"):
        catalog.describe(call.to, call.data + b"\x00" * 32)
    view = consortium.allowance.contract.functions.balanceOf(E1.address, 1)._encode_transaction_data()
    with pytest.raises(CallInputError, match="not a known action"):
        catalog.describe(call.to, bytes.fromhex(view[2:]))


# ---------------------------------------------------------------------- wallet flow on the chain


def test_build_sign_check_relay_transfers_allowances_when_wallet_signs(market: Consortium) -> None:
    catalog = _catalog(market)
    call = _transfer(catalog, "150")
    tx = catalog.build(call, E1.address.lower())
    assert json.loads(json.dumps(tx)) == tx  # JSON-able as is
    assert tx["from"] == E1.address and tx["to"] == market.allowance.address and tx["chainId"] == CHAIN_ID
    assert tx["data"] == "0x" + call.data.hex() and tx["value"] == 0 and tx["gas"] > 21_000
    assert tx["nonce"] == market.chain.w3.eth.get_transaction_count(E1.address)
    assert {"maxFeePerGas", "maxPriorityFeePerGas"} <= set(tx) and "gasPrice" not in tx
    raw = E1.sign_transaction({k: v for k, v in tx.items() if k != "from"}).raw_transaction  # in the wallet
    decoded = decode_raw_transaction(raw.to_0x_hex())
    check_same_call(decoded, call, sender=E1.address, chain_id=market.chain.chain_id)
    tx_hash = market.chain.send_raw(bytes(raw))
    assert tx_hash == decoded.hash
    assert market.chain.wait(tx_hash)["status"] == 1
    assert market.allowance.balance(E1.address, CO2_2027) == 450
    assert market.allowance.balance(E2.address, CO2_2027) == 550


def test_build_uses_legacy_gas_price_when_chain_has_no_base_fee(
    market: Consortium, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = _catalog(market)
    monkeypatch.setattr(market.chain, "fee_fields", lambda: {"gasPrice": 2_000_000_000})
    tx = catalog.build(_transfer(catalog, 1), E1.address)
    assert tx["gasPrice"] == 2_000_000_000 and "maxFeePerGas" not in tx
    raw = _sign(E1, tx)
    assert raw.type == 0 and raw.chain_id == CHAIN_ID


def test_build_raises_decoded_revert_when_transfer_exceeds_balance(market: Consortium) -> None:
    catalog = _catalog(market)
    with reverts("ERC1155InsufficientBalance", sender=E1.address, balance=600, needed=601, tokenId=CO2_2027):
        catalog.build(_transfer(catalog, 601), E1.address)


def test_build_raises_decoded_revert_when_receiver_is_outsider(market: Consortium) -> None:
    catalog = _catalog(market)
    with reverts("PartyNotAllowed", account=market.outsider.address):
        catalog.build(_transfer(catalog, 1, to=market.outsider.address), E1.address)


def test_build_refuses_sender_that_is_not_address(market: Consortium) -> None:
    catalog = _catalog(market)
    with pytest.raises(CallInputError, match=r"sender: .* is not an address"):
        catalog.build(_transfer(catalog, 1), "alice")


# ---------------------------------------------------------------------- same-call check


@pytest.fixture
def built(market: Consortium) -> tuple[CallCatalog, EncodedCall, dict[str, Any]]:
    catalog = _catalog(market)
    call = _transfer(catalog, 5)
    return catalog, call, catalog.build(call, E1.address)


def test_check_same_call_refuses_other_senders_signature(
    built: tuple[CallCatalog, EncodedCall, dict[str, Any]],
) -> None:
    _, call, tx = built
    with pytest.raises(RawTransactionError, match=f"^sender: signed by {E2.address}, expected {E1.address}"):
        check_same_call(_sign(E2, tx), call, sender=E1.address, chain_id=CHAIN_ID)


def test_check_same_call_refuses_other_amount_naming_it(
    built: tuple[CallCatalog, EncodedCall, dict[str, Any]],
) -> None:
    catalog, call, tx = built
    other = _transfer(catalog, 6)
    raw = _sign(E1, tx, data="0x" + other.data.hex())
    with pytest.raises(
        RawTransactionError, match=r"^data: .*safeTransferFrom.* \(it has value=6 instead of 5\)"
    ):
        check_same_call(raw, call, sender=E1.address, chain_id=CHAIN_ID)


def test_check_same_call_refuses_other_function(
    built: tuple[CallCatalog, EncodedCall, dict[str, Any]],
) -> None:
    catalog, call, tx = built
    other = catalog.encode("AllowanceToken", "setApprovalForAll", [ADDR, True])
    raw = _sign(E1, tx, data="0x" + other.data.hex())
    with pytest.raises(RawTransactionError, match=r"^data: .*it calls selector 0xa22cb465"):
        check_same_call(raw, call, sender=E1.address, chain_id=CHAIN_ID)


def test_check_same_call_refuses_other_target(
    market: Consortium, built: tuple[CallCatalog, EncodedCall, dict[str, Any]]
) -> None:
    _, call, tx = built
    raw = _sign(E1, tx, to=market.cash.address)
    with pytest.raises(RawTransactionError, match=f"^to: {market.cash.address}, expected AllowanceToken"):
        check_same_call(raw, call, sender=E1.address, chain_id=CHAIN_ID)


def test_check_same_call_refuses_other_value(built: tuple[CallCatalog, EncodedCall, dict[str, Any]]) -> None:
    _, call, tx = built
    with pytest.raises(RawTransactionError, match=r"^value: 1, expected 0$"):
        check_same_call(_sign(E1, tx, value=1), call, sender=E1.address, chain_id=CHAIN_ID)


def test_check_same_call_refuses_other_chain_id(
    built: tuple[CallCatalog, EncodedCall, dict[str, Any]],
) -> None:
    _, call, tx = built
    with pytest.raises(RawTransactionError, match=f"^chain id: 1, expected {CHAIN_ID}$"):
        check_same_call(_sign(E1, tx, chainId=1), call, sender=E1.address, chain_id=CHAIN_ID)


def test_check_same_call_refuses_contract_creation(
    built: tuple[CallCatalog, EncodedCall, dict[str, Any]],
) -> None:
    _, call, tx = built
    raw = _sign(E1, tx, to=None)
    assert raw.to is None
    with pytest.raises(RawTransactionError, match=r"^to: the transaction creates a contract"):
        check_same_call(raw, call, sender=E1.address, chain_id=CHAIN_ID)


def test_check_same_call_refuses_legacy_without_replay_protection(
    built: tuple[CallCatalog, EncodedCall, dict[str, Any]],
) -> None:
    _, call, tx = built
    legacy = {
        k: v for k, v in tx.items() if k not in ("from", "chainId", "maxFeePerGas", "maxPriorityFeePerGas")
    }
    raw = decode_raw_transaction(E1.sign_transaction({**legacy, "gasPrice": 10**9}).raw_transaction)
    assert raw.chain_id is None and raw.type == 0
    with pytest.raises(RawTransactionError, match=r"^chain id: none \(not replay-protected\)"):
        check_same_call(raw, call, sender=E1.address, chain_id=CHAIN_ID)


# ---------------------------------------------------------------------- raw decoding

BASE_TX: dict[str, Any] = {
    "to": ADDR_CHECKSUMMED,
    "value": 7,
    "gas": 60_000,
    "nonce": 4,
    "chainId": CHAIN_ID,
    "data": "0xabcd",
}
TX_KINDS: dict[str, tuple[dict[str, Any], int]] = {
    "legacy": ({"gasPrice": 10**9}, 0),
    "eip2930": (
        {"type": 1, "gasPrice": 10**9, "accessList": [{"address": ADDR_CHECKSUMMED, "storageKeys": []}]},
        1,
    ),
    "eip1559": ({"maxFeePerGas": 2 * 10**9, "maxPriorityFeePerGas": 10**9}, 2),
}


@pytest.mark.parametrize("kind", list(TX_KINDS))
def test_decode_raw_transaction_recovers_fields_and_sender_for_each_type(kind: str) -> None:
    fees, tx_type = TX_KINDS[kind]
    signed = E2.sign_transaction({**BASE_TX, **fees})
    raw = decode_raw_transaction(bytes(signed.raw_transaction))
    assert raw == RawTransaction(
        hash=signed.hash.to_0x_hex(), sender=E2.address, to=ADDR_CHECKSUMMED, data=b"\xab\xcd", value=7,
        chain_id=CHAIN_ID, nonce=4, gas=60_000, type=tx_type,
    )  # fmt: skip
    assert decode_raw_transaction(signed.raw_transaction.to_0x_hex()) == raw


def test_decode_raw_transaction_refuses_garbage() -> None:
    for garbage in (
        b"",
        "",
        b"\xc0",
        b"\xf8\x01garbage",
        b"\x05" + b"\x00" * 40,
        "0xzz",
        "not hex",
        "0x123",
        b"\x02garbage",
    ):
        with pytest.raises(RawTransactionError):
            decode_raw_transaction(garbage)


@pytest.mark.parametrize("kind", list(TX_KINDS))
def test_decode_raw_transaction_refuses_truncated_or_extended(kind: str) -> None:
    raw = bytes(E2.sign_transaction({**BASE_TX, **TX_KINDS[kind][0]}).raw_transaction)
    for bad in (raw[:-1], raw[:-20], raw[: len(raw) // 2], raw + b"\x00"):
        with pytest.raises(RawTransactionError, match=r"does not decode|not a signed|signature"):
            decode_raw_transaction(bad)


def test_decode_raw_transaction_refuses_unsigned() -> None:
    to = bytes.fromhex(ADDR[2:])
    legacy_unsigned = rlp.encode([4, 10**9, 60_000, to, 7, b"\xab\xcd", CHAIN_ID, 0, 0])
    with pytest.raises(RawTransactionError, match="unsigned or its signature is invalid"):
        decode_raw_transaction(legacy_unsigned)
    with pytest.raises(RawTransactionError, match="not a signed legacy transaction"):
        decode_raw_transaction(rlp.encode([4, 10**9, 60_000, to, 7, b"\xab\xcd"]))
    dynamic_unsigned = b"\x02" + rlp.encode([CHAIN_ID, 4, 10**9, 2 * 10**9, 60_000, to, 7, b"\xab\xcd", []])
    with pytest.raises(RawTransactionError, match="does not decode"):
        decode_raw_transaction(dynamic_unsigned)


def test_decode_raw_transaction_refuses_high_s_signature() -> None:
    signed = Account.sign_transaction({**BASE_TX, "gasPrice": 10**9}, E2.key)
    fields = rlp.decode(bytes(signed.raw_transaction))
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    high_s = (n - int.from_bytes(fields[8], "big")).to_bytes(32, "big")
    v = int.from_bytes(fields[6], "big")
    v_flipped = v + 1 if (v - 35) % 2 == 0 else v - 1
    flipped = [*fields[:6], v_flipped.to_bytes(2, "big"), fields[7], high_s]  # same signer, malleated
    with pytest.raises(RawTransactionError, match="signature is invalid"):
        decode_raw_transaction(rlp.encode(flipped))
