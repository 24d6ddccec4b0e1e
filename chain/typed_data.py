"""EIP-712 typed data (``eth_signTypedData_v4``) for every struct the project signs: the domain,
the message a wallet is handed, its digest, offline signing and signer recovery.

Each signed struct's module (applications, valve orders, Safe transactions ...) keeps its own
field list and message; this module holds what they share: the ``EIP712Domain`` type and values
(only the fields a domain has, in the EIP's order), the layout of the JSON object wallets sign,
and eth-account's encoder around it. eth-account's encoder is slow (a few thousand messages a
second); bulk readings are hashed directly in ``oracle.signing.eip712`` and tested equal to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

__all__ = [
    "Eip712Domain",
    "StructFields",
    "recover_typed",
    "sign_typed",
    "typed_data",
    "typed_digest",
]

#: A struct's EIP-712 members in order: ``[{"name": ..., "type": ...}, ...]``.
StructFields = Sequence[Mapping[str, str]]


@dataclass(frozen=True)
class Eip712Domain:
    """An EIP-712 domain: the chain and contract a signature is valid for, and the contract's
    ``EIP712(name, version)`` when it declares one (a Safe's domain has neither).

    Attributes:
        chain_id: the chain's id.
        verifying_contract: the verifying contract's address, as the message carries it (the
            caller checks and checksums it, naming what it is).
        name: the domain's name (``None``: not a domain field).
        version: the domain's version (``None``: not a domain field).
    """

    chain_id: int
    verifying_contract: str
    name: str | None = None
    version: str | None = None

    def fields(self) -> list[dict[str, str]]:
        """The ``EIP712Domain`` type: the fields this domain has, in the EIP's order."""
        return [{"name": key, "type": kind} for key, kind, _ in self._members()]

    def as_json(self) -> dict[str, Any]:
        """The domain's values as typed data carries them (keys in the order of :meth:`fields`)."""
        return {key: value for key, _, value in self._members()}

    def _members(self) -> list[tuple[str, str, Any]]:
        members: list[tuple[str, str, Any]] = [
            ("name", "string", self.name),
            ("version", "string", self.version),
            ("chainId", "uint256", self.chain_id),
            ("verifyingContract", "address", self.verifying_contract),
        ]
        return [member for member in members if member[2] is not None]


def typed_data(
    domain: Eip712Domain, primary_type: str, types: Mapping[str, StructFields], message: dict[str, Any]
) -> dict[str, Any]:
    """The ``eth_signTypedData_v4`` object a wallet signs: ``types`` (``EIP712Domain`` first, then
    ``types``: the primary struct and any it references), ``primaryType``, ``domain``, ``message``.

    Args:
        domain: the domain the signature is bound to.
        primary_type: the signed struct's name, a key of ``types``.
        types: the structs' member lists by struct name.
        message: the primary struct's values by member name.
    """
    return {
        "types": {"EIP712Domain": domain.fields(), **types},
        "primaryType": primary_type,
        "domain": domain.as_json(),
        "message": message,
    }


def _encoded(data: Mapping[str, Any]) -> SignableMessage:
    return encode_typed_data(full_message=dict(data))


def typed_digest(data: Mapping[str, Any]) -> bytes:
    """The 32-byte EIP-712 digest of :func:`typed_data`'s object (what the signer signs; OpenZeppelin's
    ``_hashTypedDataV4`` of the struct hash).

    Raises:
        ValueError, TypeError: a value does not encode as its type (eth-account's errors).
    """
    message = _encoded(data)
    return bytes(keccak(b"\x19" + message.version + message.header + message.body))


def sign_typed(account: LocalAccount, data: Mapping[str, Any]) -> bytes:
    """``account``'s 65-byte ``r ‖ s ‖ v`` signature of typed data, as a wallet's
    ``eth_signTypedData_v4`` returns it (the CLI, tests, the demo and bench keys; people sign in
    their own wallets).

    Raises:
        ValueError, TypeError: a value does not encode as its type (eth-account's errors).
    """
    return bytes(Account.sign_message(_encoded(data), account.key).signature)


def recover_typed(data: Mapping[str, Any], signature: bytes) -> str | None:
    """The address ``signature`` recovers to over typed data (``None``: a malformed signature).

    Raises:
        ValueError, TypeError: a value does not encode as its type (eth-account's errors).
    """
    message = _encoded(data)
    try:
        return str(Account.recover_message(message, signature=signature))
    except Exception:  # eth-keys raises several types for a malformed signature
        return None
