"""Routes: the regulator's valve orders (停产整顿). The EIP-712 order the signed-in regulator signs
in its wallet, and the relay that checks a signed order and leaves it for the oracle gateways
(in their queue files, which each gateway polls; the gateway that serves the device code checks
the order again and commands the controller after its next frame)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Ctx, User
from api.errors import ConflictError
from api.schemas import ERRORS
from chain.valve import ValveOrder, valve_order_typed_data
from domain.errors import InvalidInputError
from oracle.errors import ValveOrderError
from oracle.queue import Queue
from oracle.valve import RegistryRegulators, SignedValveOrder, ValveOrderCheck, leave_valve_order

router = APIRouter(tags=["valve"])

_REGULATOR = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


class ValveOrderIn(BaseModel):
    """A valve order (the regulator is the signed-in account for the typed data)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "mn": "33100000000001", "action": "close", "nonce": 1, "expires_at": 1798765200,
        "reason": "停产整顿: discharge over the permit",
    }]})  # fmt: skip

    mn: str = Field(pattern=r"^[A-Za-z0-9]{1,24}$", description="The controller's HJ 212 device code")
    action: Literal["close", "open"] = Field(description="Close or reopen the outlet valve")
    nonce: int = Field(ge=0, lt=1 << 64, description="Unique per regulator; a gateway executes it once")
    expires_at: int = Field(ge=0, lt=1 << 64, description="Unix seconds after which the order is refused")
    reason: str = Field(max_length=500, description="The stated reason (its keccak256 is signed)")


class SignedValveOrderIn(ValveOrderIn):
    """A valve order as signed, with its regulator and signature."""

    regulator: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="The signing regulator")
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="65-byte EIP-712 signature, 0x-hex")


class ValveTypedDataPublic(BaseModel):
    """The order to sign and what to send back to POST /valve/orders with the signature."""

    typed_data: dict[str, Any] = Field(description="EIP-712 typed data (eth_signTypedData_v4)")
    relay: dict[str, Any] = Field(description="The body of POST /valve/orders, signature to fill in")


class ValveOrderLeftPublic(BaseModel):
    """A signed order accepted by the relay and left for the gateways."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "regulator": _REGULATOR, "mn": "33100000000001", "action": "close", "nonce": 1, "gateways": 1,
    }]})  # fmt: skip

    regulator: str
    mn: str
    action: str
    nonce: int
    gateways: int = Field(description="Oracle gateway queues the order was left in")


def _order(body: ValveOrderIn, regulator: str) -> ValveOrder:
    try:
        return ValveOrder(regulator, body.mn, body.action, body.nonce, body.expires_at, body.reason)
    except InvalidInputError as error:
        raise ValveOrderError(str(error)) from None


@router.post("/valve/typed-data", response_model=ValveTypedDataPublic, responses=ERRORS)
def valve_typed_data(body: ValveOrderIn, ctx: Ctx, user: User) -> ValveTypedDataPublic:
    """The EIP-712 valve order the signed-in regulator signs in its wallet. 403 unless the caller
    is an active regulator."""
    user.require("REGULATOR")
    order = _order(body, user.address)
    typed = valve_order_typed_data(ctx.chain.chain_id, ctx.registry.address, order)
    relay = {**body.model_dump(), "regulator": user.address, "signature": "<the regulator's signature>"}
    return ValveTypedDataPublic(typed_data=typed, relay=relay)


@router.post("/valve/orders", response_model=ValveOrderLeftPublic, status_code=202, responses=ERRORS)
def relay_valve_order(body: SignedValveOrderIn, ctx: Ctx) -> ValveOrderLeftPublic:
    """Check a regulator's signed valve order and leave it for the oracle gateways (their queue
    files, `ETS_INDEXER_ORACLE_QUEUES`). 400 by name for an order not signed by an active
    regulator (`ValveOrderNotRegulatorError`), a signature that does not recover the regulator
    (`ValveOrderSignatureError`) or an expired one (`ValveOrderExpiredError`); 409 when no gateway
    queue is configured. The gateway serving the device refuses a replayed nonce."""
    order = _order(body, body.regulator)
    signed = SignedValveOrder(order, bytes.fromhex(body.signature[2:]))
    registry = ctx.registry
    check = ValveOrderCheck(ctx.chain.chain_id, registry.address, RegistryRegulators(registry), None)
    check.check(signed, ())
    queues = [path for path in ctx.settings.oracle_queues if path.exists()]
    if not queues:
        raise ConflictError("no oracle gateway queue is configured (ETS_INDEXER_ORACLE_QUEUES)")
    for path in queues:
        with Queue(path) as queue:
            leave_valve_order(queue, signed)
    return ValveOrderLeftPublic(
        regulator=order.regulator, mn=order.mn, action=order.action, nonce=order.nonce, gateways=len(queues)
    )
