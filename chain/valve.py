"""The regulator's valve orders (停产整顿: close or reopen an outlet's valve), as EIP-712 typed data.

An order names the device code (MN), the action, a nonce, an expiry and a hash of the stated
reason; the regulator's wallet signs it and the oracle gateway that serves the device checks the
signer against the registry's ``REGULATOR`` role before it commands the controller. The domain
is the ledger's (``ETS EmissionsLedger``, version 1) with the ConsortiumRegistry as verifying
contract, so an order signed for one deployment or chain is worthless on another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from chain.anchoring import DOMAIN_NAME, DOMAIN_VERSION
from chain.registry import checked_address
from chain.typed_data import Eip712Domain, recover_typed, sign_typed, typed_data
from domain.errors import InvalidInputError

__all__ = [
    "VALVE_ORDER_FIELDS",
    "ValveAction",
    "ValveOrder",
    "reason_hash",
    "recover_valve_order_signer",
    "sign_valve_order",
    "valve_order_typed_data",
]

ValveAction = Literal["close", "open"]
_ACTIONS: dict[str, int] = {"close": 0, "open": 1}
_UINT64_MAX = (1 << 64) - 1

VALVE_ORDER_FIELDS: list[dict[str, str]] = [
    {"name": "regulator", "type": "address"},
    {"name": "mn", "type": "string"},
    {"name": "action", "type": "uint8"},
    {"name": "nonce", "type": "uint64"},
    {"name": "expiresAt", "type": "uint64"},
    {"name": "reasonHash", "type": "bytes32"},
]


def reason_hash(reason: str) -> bytes:
    """keccak256 of the reason's UTF-8 text (the order carries the hash, the store the text)."""
    return bytes(keccak(reason.encode("utf-8")))


@dataclass(frozen=True)
class ValveOrder:
    """A regulator's order to close or reopen the valve of the controller ``mn``.

    Attributes:
        regulator: the signing regulator's address.
        mn: the controller's HJ 212 device code.
        action: ``"close"`` or ``"open"``.
        nonce: unique per regulator; a gateway executes each (regulator, nonce) once.
        expires_at: Unix seconds after which the order is refused.
        reason: the stated reason (its keccak256 is signed).
    """

    regulator: str
    mn: str
    action: ValveAction
    nonce: int
    expires_at: int
    reason: str

    def __post_init__(self) -> None:
        if self.action not in _ACTIONS:
            raise InvalidInputError(f"valve action {str(self.action)[:20]!r} is not 'close' or 'open'")
        if not 1 <= len(self.mn) <= 24 or not self.mn.isascii() or not self.mn.isalnum():
            raise InvalidInputError(f"device code {self.mn[:32]!r} is not 1..24 ASCII letters and digits")
        for name, value in (("nonce", self.nonce), ("expires_at", self.expires_at)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _UINT64_MAX:
                raise InvalidInputError(f"{name} {value!r} is not a uint64")
        checked_address(self.regulator, "regulator")

    def as_json(self) -> dict[str, Any]:
        """The order as a JSON object (what the CLI stores and the API accepts)."""
        return {
            "regulator": self.regulator,
            "mn": self.mn,
            "action": self.action,
            "nonce": self.nonce,
            "expires_at": self.expires_at,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: Any) -> ValveOrder:
        """Read :meth:`as_json`'s object back.

        Raises:
            InvalidInputError: a field is missing or of the wrong type.
        """
        try:
            return cls(
                str(data["regulator"]),
                str(data["mn"]),
                data["action"],
                data["nonce"],
                data["expires_at"],
                str(data["reason"]),
            )
        except (KeyError, TypeError) as error:
            raise InvalidInputError(f"valve order is incomplete: {error}") from None


def valve_order_typed_data(chain_id: int, registry: str, order: ValveOrder) -> dict[str, Any]:
    """The order as an EIP-712 ``eth_signTypedData_v4`` message (what the regulator's wallet signs)."""
    domain = Eip712Domain(chain_id, checked_address(registry, "registry"), DOMAIN_NAME, DOMAIN_VERSION)
    message = {
        "regulator": checked_address(order.regulator, "regulator"),
        "mn": order.mn,
        "action": _ACTIONS[order.action],
        "nonce": order.nonce,
        "expiresAt": order.expires_at,
        "reasonHash": "0x" + reason_hash(order.reason).hex(),
    }
    return typed_data(domain, "ValveOrder", {"ValveOrder": VALVE_ORDER_FIELDS}, message)


def sign_valve_order(regulator: LocalAccount, chain_id: int, registry: str, order: ValveOrder) -> bytes:
    """The regulator's 65-byte signature of an order, made offline (``ets oracle valve``, tests).

    Raises:
        InvalidInputError: the key is not the order's regulator.
    """
    if regulator.address.lower() != order.regulator.lower():
        raise InvalidInputError(f"key {regulator.address} is not the order's regulator {order.regulator}")
    return sign_typed(regulator, valve_order_typed_data(chain_id, registry, order))


def recover_valve_order_signer(
    chain_id: int, registry: str, order: ValveOrder, signature: bytes
) -> str | None:
    """The address ``signature`` recovers to over the order's typed data (``None``: malformed, or
    ``registry`` is not an address)."""
    try:
        data = valve_order_typed_data(chain_id, registry, order)
    except InvalidInputError:
        return None
    return recover_typed(data, signature)
