"""Transactions for wallet users: the action catalogue, unsigned transactions to sign in a
wallet (any call by name, or a market action from typed fields), relay of the signed ones, and
the EIP-712 payloads auditors and devices sign.

Status codes: 400 for a call the catalogue refuses (unknown action, an argument that does not
fit) or a raw transaction that is malformed or not the intent's call; 422 with the decoded
custom error when the contract refuses a call before anything is mined (at build, or when the
node refuses it at relay); 404 / 403 for an unknown intent or another account's; 409 for an
intent already relayed or expired. A transaction that is mined and reverts is answered 200 with
``status: "reverted"`` and the decoded error: it is on the chain, it used gas and its intent is
spent.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

import anyio
import anyio.to_thread
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, RootModel

from api.access import check_market_action
from api.crud import Address
from api.deps import Ctx, Db, User
from api.errors import ForbiddenError
from api.schemas import ERRORS, ErrorBody
from api.tx import (
    Built,
    Outcome,
    RelayInFlightError,
    attestation_payload,
    build_intent,
    get_intent,
    list_actions,
    reading_payload,
    refresh_intent,
    relay_intent,
    shown_status,
)
from chain.calls import ActionSpec, ParamSpec
from chain.market import WALLET_ACTIONS as MARKET_WALLET_ACTIONS
from chain.permits import Outlet as PermitOutlet
from chain.permits import Term as PermitTerm
from chain.permits import outlets_arg, terms_arg
from domain.market import MAX_PRICE, MAX_QUANTITY, Rulebook, Side
from domain.tokens import pollutant_code

router = APIRouter(prefix="/tx", tags=["tx"])

_ADDRESS = r"^0x[0-9a-fA-F]{40}$"
_BYTES32 = r"^0x[0-9a-fA-F]{64}$"
_E0 = "0xBcd4042DE499D14e55001CcbB24a551F3b954096"
_E1 = "0x71bE63f3384f5fb98995898A86B02Fb2426c5788"
_AUDITOR = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
_LEDGER = "0x5FC8d32690cc91D4c39d9d3abcBD16989F875707"
_HASH = "0x" + "5e" * 32

REVERTS: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorBody,
        "description": "The intent was already relayed or it expired; the nonce is not the account's "
        "pending nonce; the account already has a relay waiting",
    },
    422: {"model": ErrorBody, "description": "The contract refuses the call (decoded custom error)"},
}


# ---------------------------------------------------------------------- catalogue


class ParamPublic(BaseModel):
    """One parameter of an action: its name, ABI type and, for structs, its components."""

    name: str = Field(examples=["to"])
    type: str = Field(description="ABI type as the ABI JSON spells it (`tuple` for structs)",
                      examples=["address"])  # fmt: skip
    components: list[ParamPublic] = Field(default_factory=list, description="Fields of a struct")

    @classmethod
    def of(cls, spec: ParamSpec) -> ParamPublic:
        return cls(name=spec.name, type=spec.type, components=[cls.of(c) for c in spec.components])


class ActionPublic(BaseModel):
    """A state-changing contract function a wallet user may call through POST /tx/build."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "contract": "AllowanceToken", "function": "safeTransferFrom",
        "signature": "safeTransferFrom(address,address,uint256,uint256,bytes)", "selector": "0xf242432a",
        "inputs": [{"name": "from", "type": "address", "components": []},
                   {"name": "to", "type": "address", "components": []},
                   {"name": "id", "type": "uint256", "components": []},
                   {"name": "value", "type": "uint256", "components": []},
                   {"name": "data", "type": "bytes", "components": []}],
        "payable": False, "notice": "",
    }]})  # fmt: skip

    contract: str = Field(description="Contract name in the deployment manifest")
    function: str
    signature: str = Field(description="Canonical signature; name it in `function` for an overloaded name")
    selector: str = Field(description="4-byte selector, 0x-hex")
    inputs: list[ParamPublic]
    payable: bool
    notice: str = Field(description="The function's NatSpec @notice (what it does, requirements)")

    @classmethod
    def of(cls, spec: ActionSpec) -> ActionPublic:
        return cls(contract=spec.contract, function=spec.function, signature=spec.signature,
                   selector=spec.selector, inputs=[ParamPublic.of(p) for p in spec.inputs],
                   payable=spec.payable, notice=spec.notice)  # fmt: skip


@router.get("/actions", response_model=list[ActionPublic], responses=ERRORS)
def actions(
    ctx: Ctx,
    contract: Annotated[str | None, Query(max_length=40, description="Only this contract's actions")] = None,
) -> list[ActionPublic]:
    """Every state-changing function of the deployed contracts, from their ABIs and NatSpec.

    A contract added to the deployment manifest appears here (and in POST /tx/build) with no
    change to the API."""
    return [ActionPublic.of(a) for a in list_actions(calls=ctx.calls, contract=contract)]


# ---------------------------------------------------------------------- build


class BuildRequest(BaseModel):
    """A call by name, with JSON arguments, for the signed-in account to sign."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "contract": "AllowanceToken", "function": "safeTransferFrom",
        "args": {"from": _E0, "to": _E1, "id": 16842728, "value": 25, "data": "0x"},
    }, {
        "contract": "ComplianceManager", "function": "acknowledge", "args": [2024],
    }]})  # fmt: skip

    contract: str = Field(max_length=40, description="Contract name (see GET /tx/actions)")
    function: str = Field(max_length=400, description="Function name, or its full signature when overloaded")
    args: dict[str, Any] | list[Any] = Field(
        default_factory=dict,
        description="Arguments by parameter name, or in order. Integers as numbers or decimal strings, "
        "bytes as 0x-hex, structs as objects by field name",
    )
    value: int = Field(0, ge=0, le=2**63 - 1, description="Wei to send (payable functions only)")


class UnsignedTx(BaseModel):
    """The unsigned transaction, as ``eth_sendTransaction`` / ``eth_signTransaction`` take it."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    from_: str = Field(alias="from", description="The signed-in account (never taken from the request)")
    to: str
    data: str = Field(description="Calldata, 0x-hex")
    value: int
    gas: int = Field(description="The node's estimate from the sender's address, plus a margin")
    nonce: int = Field(description="The sender's next nonce (pending); the wallet may choose another")
    chainId: int
    maxFeePerGas: int | None = Field(None, description="EIP-1559 chains (absent otherwise)")
    maxPriorityFeePerGas: int | None = Field(None, description="EIP-1559 chains (absent otherwise)")
    gasPrice: int | None = Field(None, description="Chains without a base fee (absent otherwise)")


class CallPublic(BaseModel):
    """The action a transaction calls and its arguments, normalized (addresses checksummed,
    bytes as 0x-hex, structs as objects)."""

    contract: str
    function: str
    signature: str
    selector: str
    notice: str
    args: dict[str, Any]


class BuiltPublic(BaseModel):
    """An unsigned transaction to sign in the wallet, and the intent to relay it under."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "intent_id": "0b6f1c8e-6d55-4d38-9b0a-3f3f5b1a2c11",
        "tx": {"from": _E0, "to": "0x5FbDB2315678afecb367f032d93F642f64180aa3", "data": "0xf242432a...",
               "value": 0, "gas": 98765, "nonce": 3, "chainId": 31337, "maxFeePerGas": 1750000000,
               "maxPriorityFeePerGas": 0},
        "action": {"contract": "AllowanceToken", "function": "safeTransferFrom",
                   "signature": "safeTransferFrom(address,address,uint256,uint256,bytes)",
                   "selector": "0xf242432a", "notice": "",
                   "args": {"from": _E0, "to": _E1, "id": 16842728, "value": 25, "data": "0x"}},
        "expires_at": 1767225600,
        "sign_with": "eth_sendTransaction or eth_signTransaction in the wallet",
    }]})  # fmt: skip

    intent_id: str = Field(description="Relay the signed transaction under this id (POST /tx/relay)")
    tx: UnsignedTx
    action: CallPublic
    expires_at: int = Field(description="The intent is refused after this time (unix s)")
    sign_with: str


@router.post("/build", response_model=BuiltPublic, response_model_exclude_none=True,
             responses={**ERRORS, **REVERTS})  # fmt: skip
def build(body: BuildRequest, ctx: Ctx, db: Db, user: User) -> BuiltPublic:
    """Build the unsigned transaction of a call for the signed-in account.

    The arguments are checked against the ABI (400 naming the argument that does not fit), the
    gas is estimated from the signed-in address (422 with the decoded custom error, e.g.
    `ERC1155InsufficientBalance` or `UnauthorizedRole`, when the call would revert), and the
    call is kept as an intent for `api_intent_minutes`. Sign `tx` in the wallet
    (`eth_signTransaction`, or any signer; nonce and fees are the signer's to change) and send the
    raw transaction to POST /tx/relay with the `intent_id`. Signed-in accounts with an active
    role only (403 otherwise): estimating gas costs the node work."""
    user.require()
    check_market_action(user, body.contract, body.function)
    built = build_intent(
        db, calls=ctx.calls, sender=user.address, contract=body.contract, function=body.function,
        args=body.args, value=body.value, lifetime_s=ctx.settings.api_intent_minutes * 60,
    )  # fmt: skip
    return built_public(built)


def built_public(built: Built) -> BuiltPublic:
    """The answer of a builder route (POST /tx/build and the typed builders of other routers)."""
    spec = built.action
    return BuiltPublic(
        intent_id=built.intent.intent_id,
        tx=UnsignedTx.model_validate(built.tx),
        action=CallPublic(
            contract=spec.contract,
            function=spec.function,
            signature=spec.signature,
            selector=spec.selector,
            notice=spec.notice,
            args=built.call.args,
        ),
        expires_at=built.intent.expires_at,
        sign_with="eth_sendTransaction or eth_signTransaction in the wallet",
    )


# ---------------------------------------------------------------------- market


_PRICE = Field(ge=1, le=MAX_PRICE, description="Fen per tonne")
_QUANTITY = Field(ge=1, le=MAX_QUANTITY, description="Whole tonnes")
_TOKEN_ID = Field(ge=1, le=2**32 - 1, description="Allowance or offset id")
_ID = Field(ge=1, le=2**63 - 1)


class _MarketAction(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlaceOrder(_MarketAction):
    """A limit order, valid for the day (enterprises)."""

    action: Literal["place"]
    token_id: int = _TOKEN_ID
    side: Literal["buy", "sell"]
    price: int = _PRICE
    quantity: int = _QUANTITY

    def call_args(self) -> tuple[Any, ...]:
        return (self.token_id, Side.BUY if self.side == "buy" else Side.SELL, self.price, self.quantity)


class CancelOrder(_MarketAction):
    """Cancel one's open order (enterprises); ``force_cancel``: the exchange cancels anyone's."""

    action: Literal["cancel", "force_cancel"]
    order_id: int = _ID

    def call_args(self) -> tuple[Any, ...]:
        return (self.order_id,)


class TakeOrder(_MarketAction):
    """Fill part or all of a resting order of the best five levels at its price (enterprises)."""

    action: Literal["take"]
    order_id: int = _ID
    quantity: int = _QUANTITY

    def call_args(self) -> tuple[Any, ...]:
        return (self.order_id, self.quantity)


class ProposeBlock(_MarketAction):
    """Propose a block trade to a named buyer; the allowances are escrowed (enterprises)."""

    action: Literal["propose_block"]
    token_id: int = _TOKEN_ID
    buyer: Address
    price: int = _PRICE
    quantity: int = _QUANTITY

    def call_args(self) -> tuple[Any, ...]:
        return (self.token_id, self.buyer, self.price, self.quantity)


class AnswerBlock(_MarketAction):
    """Accept or decline a block proposal named to you, or cancel your own (enterprises)."""

    action: Literal["accept_block", "decline_block", "cancel_block"]
    block_id: int = _ID

    def call_args(self) -> tuple[Any, ...]:
        return (self.block_id,)


class Uncross(_MarketAction):
    """Submit the opening call's uncrossing (any active participant); without ``price`` the API
    computes it from the call book (``domain.market.uncross_price``)."""

    action: Literal["uncross"]
    token_id: int = _TOKEN_ID
    price: int | None = Field(None, ge=0, le=MAX_PRICE, description="0 when nothing crosses")
    max_fills: int = Field(200, ge=1, le=10_000, description="Fills in this transaction (paged)")

    def call_args(self) -> tuple[Any, ...]:
        return (self.token_id, self.price, self.max_fills)


class Expire(_MarketAction):
    """Expire a past day's (or today's, after the close) open orders and blocks, paged (anyone active)."""

    action: Literal["expire"]
    token_id: int = _TOKEN_ID
    max_orders: int = Field(200, ge=1, le=10_000)

    def call_args(self) -> tuple[Any, ...]:
        return (self.token_id, self.max_orders)


class WithdrawUnclaimed(_MarketAction):
    """Pull escrow the market credited while the account was suspended (``token_id`` 0: cash)."""

    action: Literal["withdraw_unclaimed"]
    token_id: int = Field(ge=0, le=2**32 - 1)

    def call_args(self) -> tuple[Any, ...]:
        return (self.token_id,)


class SetRulebook(_MarketAction):
    """List a token id or change its rules (the exchange); defaults as the issue's rulebook."""

    action: Literal["set_rulebook"]
    token_id: int = _TOKEN_ID
    reference_price: int = _PRICE
    band_bps: int = Field(1000, ge=0, le=10_000)
    block_band_bps: int = Field(3000, ge=0, le=10_000)
    fee_bps: int = Field(0, ge=0, le=1000)
    block_minimum: int = Field(100_000, ge=1, le=MAX_QUANTITY)
    call_start: int = Field(33_300, ge=0, le=86_400)
    open1: int = Field(34_200, ge=0, le=86_400)
    close1: int = Field(41_400, ge=0, le=86_400)
    open2: int = Field(46_800, ge=0, le=86_400)
    close2: int = Field(54_000, ge=0, le=86_400)
    block_from: int = Field(46_800, ge=0, le=86_400)
    position_limit: int = Field(
        0, ge=0, le=MAX_QUANTITY, description="Most tonnes held + open to buy (0 = none)"
    )
    position_limit_bps: int = Field(
        0, ge=0, le=10_000, description="The same as a share of the id's quantity in circulation (0 = none)"
    )
    governed: bool = Field(False, description="Changes to this rulebook need registry governance")

    def call_args(self) -> tuple[Any, ...]:
        fields = self.model_dump(exclude={"action", "token_id"})
        return (self.token_id, Rulebook(**fields).validate(self.token_id))


class SetReferencePrice(_MarketAction):
    """Post a token id's reference price (the exchange; the settlement job posts the close)."""

    action: Literal["set_reference_price"]
    token_id: int = _TOKEN_ID
    price: int = _PRICE

    def call_args(self) -> tuple[Any, ...]:
        return (self.token_id, self.price)


#: A token id, or 0 for every token id (the market-wide halt).
_HALT_TOKEN_ID = Field(ge=0, le=2**32 - 1, description="Allowance or offset id; 0: the whole market")


class Halt(_MarketAction):
    """Halt a token id's trading, or every token id's with ``token_id`` 0 (the exchange)."""

    action: Literal["halt"]
    token_id: int = _HALT_TOKEN_ID
    reason: str = Field(min_length=1, max_length=200)

    def call_args(self) -> tuple[Any, ...]:
        return (self.token_id, self.reason)


class Resume(_MarketAction):
    """Resume a halted token id, or end the market-wide halt with ``token_id`` 0 (the exchange)."""

    action: Literal["resume"]
    token_id: int = _HALT_TOKEN_ID

    def call_args(self) -> tuple[Any, ...]:
        return (self.token_id,)


MarketActionRequest = Annotated[
    PlaceOrder | CancelOrder | TakeOrder | ProposeBlock | AnswerBlock | Uncross | Expire | WithdrawUnclaimed
    | SetRulebook | SetReferencePrice | Halt | Resume,
    Field(discriminator="action"),
]  # fmt: skip


class MarketBuildRequest(RootModel[MarketActionRequest]):
    """A market action by name with typed fields (`action` picks the shape)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"action": "place", "token_id": 16844776, "side": "buy", "price": 9860, "quantity": 300},
        {"action": "take", "order_id": 12, "quantity": 100},
        {"action": "propose_block", "token_id": 16844776, "buyer": _E1, "price": 9700, "quantity": 120000},
        {"action": "accept_block", "block_id": 40},
        {"action": "halt", "token_id": 16844776, "reason": "abnormal trading"},
    ]})  # fmt: skip


@router.post("/market", response_model=BuiltPublic, response_model_exclude_none=True,
             responses={**ERRORS, **REVERTS})  # fmt: skip
def build_market(body: MarketBuildRequest, ctx: Ctx, db: Db, user: User) -> BuiltPublic:
    """Build a Market transaction for the signed-in account from typed fields (the same intent as
    POST /tx/build with contract `Market`; sign and relay it the same way).

    Trading (`place`, `cancel`, `take`, `propose_block`, `accept_block`, `decline_block`,
    `cancel_block`) needs the ENTERPRISE role, the exchange's actions (`set_rulebook`,
    `set_reference_price`, `halt`, `resume`, `force_cancel`) the EXCHANGE role (403 otherwise);
    `uncross`, `expire` and `withdraw_unclaimed` any active role. 400 for a rulebook that breaks
    the contract's bounds, 422 with the contract's custom error (e.g. `MarketPriceOutsideBand`,
    `MarketInsufficientCash`) when the call would revert now. Approve the market first:
    GET /tx/market/approvals."""
    user.require()
    action = body.root
    function = MARKET_WALLET_ACTIONS[action.action]
    check_market_action(user, "Market", function)
    args = action.call_args()
    if isinstance(action, Uncross) and action.price is None:
        args = (action.token_id, ctx.market.compute_uncross(action.token_id).price, action.max_fills)
    call = ctx.market.wallet_call(action.action, *args)
    # in order: the Market's delegating functions leave their parameters unnamed in its ABI
    built = build_intent(
        db, calls=ctx.calls, sender=user.address, contract=call.contract, function=call.function,
        args=list(call.args.values()), lifetime_s=ctx.settings.api_intent_minutes * 60,
    )  # fmt: skip
    return built_public(built)


# ---------------------------------------------------------------------- permits


class PermitOutletIn(BaseModel):
    """A discharge outlet and its monitoring device's HJ 212 MN code."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=32, examples=["DA001"])
    mn: str = Field(min_length=1, max_length=24, pattern=r"^[0-9A-Za-z]+$", examples=["33100000000001"])


class PermitTermIn(BaseModel):
    """A pollutant asked for: annual amount (t) and concentration limit (mg/m3 or mg/L × 1000)."""

    model_config = ConfigDict(extra="forbid")

    pollutant: str | int = Field(description="Symbol (`SO2`, `NOx`, `COD` ...) or code; not CO2")
    annual_amount: int = Field(ge=1, le=2**64 - 1, description="Tonnes a year")
    concentration_limit: int = Field(0, ge=0, le=2**32 - 1)


class _PermitApplication(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outlets: list[PermitOutletIn] = Field(min_length=1, max_length=64)
    terms: list[PermitTermIn] = Field(min_length=1, max_length=16)
    document_hash: str = Field("0x" + "00" * 32, pattern=_BYTES32,
                               description="keccak-256 of the application's documents")  # fmt: skip

    def content(self) -> list[Any]:
        outlets = outlets_arg([PermitOutlet(o.code, o.mn) for o in self.outlets])
        asked = [
            PermitTerm(pollutant_code(t.pollutant), t.annual_amount, t.concentration_limit)
            for t in self.terms
        ]
        terms = terms_arg(asked)
        return [
            [{"code": code, "mn": mn} for code, mn in outlets],
            [{"pollutant": p, "annualAmount": a, "concentrationLimit": c} for p, a, c in terms],
            self.document_hash,
        ]


class ApplyForPermit(_PermitApplication):
    """Apply for a discharge permit (the signed-in enterprise applies for itself)."""

    action: Literal["apply"]

    def call(self) -> tuple[str, list[Any]]:
        return "applyForPermit", self.content()


class ResubmitPermitApplication(_PermitApplication):
    """Resubmit one's application the regulator returned, with its outlets and terms revised."""

    action: Literal["resubmit"]
    application_id: int = _ID

    def call(self) -> tuple[str, list[Any]]:
        return "resubmit", [self.application_id, *self.content()]


PermitActionRequest = Annotated[ApplyForPermit | ResubmitPermitApplication, Field(discriminator="action")]


class PermitBuildRequest(RootModel[PermitActionRequest]):
    """A permit application action with typed fields (`action` picks the shape)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"action": "apply", "outlets": [{"code": "DA001", "mn": "33100000000001"}],
         "terms": [{"pollutant": "SO2", "annual_amount": 8000, "concentration_limit": 35000},
                   {"pollutant": "NOx", "annual_amount": 3000, "concentration_limit": 50000}],
         "document_hash": _HASH},
        {"action": "resubmit", "application_id": 3, "outlets": [{"code": "DA001", "mn": "33100000000001"}],
         "terms": [{"pollutant": "SO2", "annual_amount": 7000}]},
    ]})  # fmt: skip


@router.post("/permits", response_model=BuiltPublic, response_model_exclude_none=True,
             responses={**ERRORS, **REVERTS})  # fmt: skip
def build_permits(body: PermitBuildRequest, ctx: Ctx, db: Db, user: User) -> BuiltPublic:
    """Build the signed-in enterprise's discharge permit application for its own wallet to sign
    (`apply`: DischargePermits.applyForPermit; `resubmit`: resubmit a returned application), the
    same intent as POST /tx/build; sign and relay it through POST /tx/relay. The enterprise's key
    never reaches the server.

    The ENTERPRISE role only (403 otherwise). 400 for an outlet or term the contract would not
    take (an invalid MN, an unknown pollutant); 422 with the contract's custom error when the call
    would revert now (e.g. `PermitAlreadyHeld`, `PermitInvalidTerm` for CO2, `PermitOutletTaken`,
    `PermitNotApplicant`, `PermitApplicationWrongState`)."""
    user.require()
    if not user.has("ENTERPRISE"):
        raise ForbiddenError(f"{user.address} needs the role ENTERPRISE to apply for a discharge permit")
    function, args = body.root.call()
    built = build_intent(
        db, calls=ctx.calls, sender=user.address, contract="DischargePermits", function=function,
        args=args, lifetime_s=ctx.settings.api_intent_minutes * 60,
    )  # fmt: skip
    return built_public(built)


class CallRequestPublic(BaseModel):
    """A POST /tx/build body."""

    contract: str
    function: str
    args: dict[str, Any]


@router.get("/market/approvals", response_model=list[CallRequestPublic], responses=ERRORS)
def market_approvals(ctx: Ctx, user: User) -> list[CallRequestPublic]:
    """The token approvals the signed-in account still lacks to trade (settlement cash
    allowance, allowance-token operator approval of the market), as POST /tx/build bodies to sign
    once each; empty when both are in place."""
    user.require()
    return [CallRequestPublic(contract=c.contract, function=c.function, args=c.args)
            for c in ctx.market.approval_calls(user.address)]  # fmt: skip


# ---------------------------------------------------------------------- relay


class RelayRequest(BaseModel):
    """A signed raw transaction for an intent."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "intent_id": "0b6f1c8e-6d55-4d38-9b0a-3f3f5b1a2c11",
        "raw_transaction": "0x02f8b1827a6903808506fc23ac0083018c4d945fbdb2315678afecb367f032d93f"
                           "642f64180aa380b844f242432a...",
    }]})  # fmt: skip

    intent_id: str = Field(max_length=64, description="From POST /tx/build")
    raw_transaction: str = Field(max_length=262_144, description="The signed transaction, 0x-hex "
                                 "(legacy with EIP-155, EIP-2930 or EIP-1559)")  # fmt: skip


class RevertPublic(BaseModel):
    """Why a mined transaction reverted: the contract's custom error, decoded."""

    name: str = Field(examples=["ERC1155InsufficientBalance"])
    args: dict[str, Any]
    message: str


class TxEventPublic(BaseModel):
    """An event the transaction emitted, decoded from the contract's ABI."""

    contract: str
    name: str
    address: str
    log_index: int
    args: dict[str, Any]


class OutcomePublic(BaseModel):
    """What a relayed transaction did."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "tx_hash": _HASH, "status": "success", "block_number": 412, "gas_used": 61234,
        "events": [{"contract": "AllowanceToken", "name": "TransferSingle", "address": _LEDGER,
                    "log_index": 0,
                    "args": {"operator": _E0, "from": _E0, "to": _E1, "id": 16842728, "value": 25}}],
        "error": None,
    }, {
        "tx_hash": _HASH, "status": "reverted", "block_number": 413, "gas_used": 30123, "events": [],
        "error": {"name": "ERC1155InsufficientBalance",
                  "args": {"sender": _E0, "balance": 0, "needed": 25, "tokenId": 16842728},
                  "message": "ERC1155InsufficientBalance(sender=..., balance=0, needed=25, "
                             "tokenId=16842728)"},
    }]})  # fmt: skip

    tx_hash: str
    status: Literal["success", "reverted", "pending"] = Field(
        description="`pending`: not mined within the wait; GET /tx/intents/{intent_id} later"
    )
    block_number: int | None = None
    gas_used: int | None = None
    events: list[TxEventPublic] = Field(default_factory=list)
    error: RevertPublic | None = Field(None, description="Set when status is `reverted`")

    @classmethod
    def of(cls, outcome: Outcome) -> OutcomePublic:
        return cls.model_validate(outcome.to_json())


#: Relays wait for receipts (up to ~30 s): they get threads of their own, so a burst of them
#: does not hold up the few threads that serve reads.
_RELAY_THREADS = anyio.CapacityLimiter(32)
#: Accounts with a relay waiting for its receipt in this process (one at a time each; the event
#: loop is the only writer, so no lock).
_IN_FLIGHT: set[str] = set()


@router.post("/relay", response_model=OutcomePublic, responses={**ERRORS, **REVERTS})
async def relay(body: RelayRequest, ctx: Ctx, db: Db, user: User) -> OutcomePublic:
    """Relay a signed raw transaction for an intent of the signed-in account, once.

    The raw transaction must be exactly the intent's call (target, calldata, value, chain id)
    signed by the signed-in account: otherwise 400 naming the first field that differs
    (`sender`, `chain id`, `to`, `data`, `value`). An intent is relayed once (409 after, or
    once expired). The answer waits for the receipt (`ETS_API_RELAY_WAIT_SECONDS`, 30 s by
    default, then `pending`): a transaction mined and reverted is `status: "reverted"` with the
    decoded custom error (200: it is on the chain); one the node refuses before mining is 400
    (or 422 for a revert) and the intent stays usable.

    The transaction's nonce must be the account's pending nonce: any other is refused at once
    (409, naming the nonce to sign with) rather than left waiting in the node's queue. An
    account has at most one relay waiting for its receipt: a second one meanwhile is 409."""
    user.require()
    if user.address in _IN_FLIGHT:
        raise RelayInFlightError(
            f"{user.address} already has a relay waiting for its receipt: try again then"
        )
    _IN_FLIGHT.add(user.address)
    try:
        outcome = await anyio.to_thread.run_sync(
            functools.partial(
                relay_intent, db, calls=ctx.calls, chain=ctx.chain, events=ctx.events,
                intent_id=body.intent_id, owner=user.address, raw_transaction=body.raw_transaction,
                wait_s=ctx.settings.api_relay_wait_seconds,
            ),
            limiter=_RELAY_THREADS,
        )  # fmt: skip
    finally:
        _IN_FLIGHT.discard(user.address)
    return OutcomePublic.of(outcome)


class IntentPublic(BaseModel):
    """A transaction intent and what became of it."""

    intent_id: str
    sender: str
    contract: str
    function: str = Field(description="The function's signature")
    to: str
    data: str
    value: int
    chain_id: int
    created_at: int
    expires_at: int
    status: str = Field(description="`built`, `expired`, `pending`, `success` or `reverted`")
    tx_hash: str | None
    outcome: OutcomePublic | None = Field(None, description="Once mined")


@router.get("/intents/{intent_id}", response_model=IntentPublic, responses=ERRORS)
def intent(intent_id: Annotated[str, Path(max_length=64)], ctx: Ctx, db: Db, user: User) -> IntentPublic:
    """An intent of the signed-in account: built, expired, pending, or its outcome once mined
    (a pending one is looked up on the chain again)."""
    row = get_intent(db, intent_id=intent_id, owner=user.address)
    row = refresh_intent(db, chain=ctx.chain, events=ctx.events, intent=row)
    return IntentPublic(
        intent_id=row.intent_id, sender=row.sender, contract=row.contract, function=row.function, to=row.to,
        data=row.data, value=row.value, chain_id=row.chain_id, created_at=row.created_at,
        expires_at=row.expires_at, status=shown_status(row), tx_hash=row.tx_hash,
        outcome=OutcomePublic.model_validate(row.outcome) if row.outcome else None,
    )  # fmt: skip


# ---------------------------------------------------------------------- EIP-712 payloads


class AttestationFields(BaseModel):
    """An attestation's content; the auditor is the signed-in account, the nonce comes from the chain."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "enterprise": _E1, "pollutant": 1, "year": 2024, "verified_emissions": 900, "offsets_eligible": 50,
        "evidence": ["0x" + "ab" * 32], "report_hash": "0x" + "cd" * 32, "supersedes": None,
    }]})  # fmt: skip

    enterprise: str = Field(pattern=_ADDRESS, description="The attested enterprise")
    pollutant: int = Field(ge=1, le=255, description="AllowanceToken pollutant code (1 CO2, 2 SO2 ...)")
    year: int = Field(ge=0, le=65_535, description="The compliance year")
    verified_emissions: int = Field(ge=0, le=2**256 - 1, description="Verified emissions, whole tonnes")
    offsets_eligible: int = Field(ge=0, le=2**256 - 1, description="Offsets eligible, whole tonnes")
    evidence: list[Annotated[str, Field(pattern=_BYTES32)]] = Field(
        max_length=256, description="Anchored batch ids and/or hashes of external evidence (bytes32)"
    )
    report_hash: str = Field(pattern=_BYTES32, description="Hash of the audit report")
    supersedes: str | None = Field(None, pattern=_BYTES32,
                                   description="The auditor's Active attestation this replaces")  # fmt: skip


class TypedDataPublic(BaseModel):
    """An EIP-712 message for `eth_signTypedData_v4`, and the digest a signature covers."""

    typed_data: dict[str, Any] = Field(description="`{types, primaryType, domain, message}`")
    digest: str = Field(description="EIP-712 digest, 0x-hex (an attestation's id on the ledger)")


class AttestationTypedDataPublic(TypedDataPublic):
    """The attestation to sign, and the body of POST /tx/build that relays it once signed."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "typed_data": {"types": {"EIP712Domain": [{"name": "name", "type": "string"}, "..."],
                                 "Attestation": [{"name": "auditor", "type": "address"}, "..."]},
                       "primaryType": "Attestation",
                       "domain": {"name": "ETS EmissionsLedger", "version": "1", "chainId": 31337,
                                  "verifyingContract": _LEDGER},
                       "message": {"auditor": _AUDITOR, "enterprise": _E1, "pollutant": 1, "year": 2024,
                                   "verifiedEmissions": 900, "offsetsEligible": 50,
                                   "evidence": ["0x" + "ab" * 32], "reportHash": "0x" + "cd" * 32,
                                   "supersedes": "0x" + "00" * 32, "nonce": 0}},
        "digest": _HASH,
        "relay": {"contract": "EmissionsLedger", "function": "attestBySig",
                  "args": {"a": {"auditor": _AUDITOR, "...": "the message"}, "signature": "<signature>"}},
    }]})  # fmt: skip

    relay: dict[str, Any] = Field(
        description="POST /tx/build body submitting the attestation once `signature` is filled in"
    )


@router.post("/typed-data/attestation", response_model=AttestationTypedDataPublic, responses=ERRORS)
def attestation_typed_data(body: AttestationFields, ctx: Ctx, user: User) -> AttestationTypedDataPublic:
    """The EIP-712 attestation the signed-in auditor signs (`eth_signTypedData_v4`), with its
    nonce read from the EmissionsLedger.

    To submit it, anyone (the auditor or another account) calls POST /tx/build with the
    returned `relay` body, `signature` set to the auditor's 65-byte signature, signs the built
    `EmissionsLedger.attestBySig` transaction and relays it with POST /tx/relay: the contract
    checks the signature recovers to the auditor. (An auditor may also call
    `EmissionsLedger.attest` with the same struct and no signature.) 403 unless the signed-in
    account is an auditor."""
    user.require("AUDITOR")
    ledger = ctx.ledger
    payload = attestation_payload(
        chain_id=ctx.chain.chain_id, ledger=ledger.address, auditor=user.address,
        nonce=ledger.nonce(user.address), enterprise=body.enterprise, pollutant=body.pollutant,
        year=body.year, verified_emissions=body.verified_emissions, offsets_eligible=body.offsets_eligible,
        evidence=body.evidence, report_hash=body.report_hash, supersedes=body.supersedes,
    )  # fmt: skip
    message = payload.typed_data["message"]
    return AttestationTypedDataPublic(
        typed_data=payload.typed_data, digest="0x" + payload.digest.hex(),
        relay={"contract": "EmissionsLedger", "function": "attestBySig",
               "args": {"a": message, "signature": "<the auditor's signature, 0x-hex>"}},
    )  # fmt: skip


class ReadingFieldsIn(BaseModel):
    """One reading, as the EIP-712 `Reading` struct has it."""

    model_config = ConfigDict(extra="forbid")

    device: str = Field(pattern=_ADDRESS, description="The signing device's address")
    sequence: int = Field(ge=0, le=2**64 - 1, description="The device's reading counter")
    time: int = Field(ge=0, le=2**64 - 1, description="Unix seconds (UTC)")
    pollutant: str = Field(max_length=8, description="HJ 212 factor code", examples=["w01018"])
    value: int | str = Field(description="The reading scaled by 10**decimals (a decimal string if big)")
    decimals: int = Field(ge=0, le=255)
    unit: str = Field(max_length=8, examples=["mg/L"])
    flag: str = Field("N", max_length=1, description="HJ 212 data flag (N F M S D C T B)")


class ReadingTypedDataRequest(BaseModel):
    """Readings to get the EIP-712 message of: one `Reading`, or a `Frame` (what devices sign)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "readings": [{"device": "0x2546BcD3c84621e976D8185a91A922aE77ECEc30", "sequence": 41,
                      "time": 1735689600, "pollutant": "w01018", "value": 12345, "decimals": 3,
                      "unit": "mg/L", "flag": "N"}],
        "frame": False,
    }]})  # fmt: skip

    readings: list[ReadingFieldsIn] = Field(min_length=1, max_length=256)
    frame: bool = Field(False, description="A `Frame(Reading[] readings)` of one device's readings, "
                        "rather than one `Reading`")  # fmt: skip


class ReadingTypedDataPublic(TypedDataPublic):
    """The EIP-712 message, its digest and each reading's `hashStruct` (a frame witness's hashes)."""

    reading_hashes: list[str]


@router.post("/typed-data/reading", response_model=ReadingTypedDataPublic, responses=ERRORS)
def reading_typed_data(body: ReadingTypedDataRequest, ctx: Ctx, user: User) -> ReadingTypedDataPublic:
    """The EIP-712 message of a reading (its digest is the reading's Merkle leaf value) or of a
    frame (what a device signs once for all of a frame's readings), under the EmissionsLedger's
    domain: for devices that sign with a wallet library, and to verify a device's signature.
    Signed-in accounts only; nothing is read from or sent to the chain."""
    payload = reading_payload(
        chain_id=ctx.chain.chain_id, ledger=ctx.ledger.address,
        readings=[r.model_dump() for r in body.readings], frame=body.frame,
    )  # fmt: skip
    return ReadingTypedDataPublic(typed_data=payload.typed_data, digest="0x" + payload.digest.hex(),
                                  reading_hashes=["0x" + h.hex() for h in payload.hashes])  # fmt: skip
