"""The EIP-712 message an enterprise's wallet signs to apply for an account or a profile change
(domain ``ETS Chain accounts``, version 1, the chain's id, the ConsortiumRegistry as verifying
contract), its digest, the signer it recovers to, and the propose call acceptance opens."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount

from chain.registry import EnterpriseProfile, RegistryClient, checked_address
from chain.typed_data import Eip712Domain, recover_typed, sign_typed, typed_data, typed_digest
from domain.accounts import ApplicationFields

DOMAIN_NAME = "ETS Chain accounts"
DOMAIN_VERSION = "1"
_APPLICATION_FIELDS = [
    {"name": "kind", "type": "string"},
    {"name": "account", "type": "address"},
    {"name": "creditCode", "type": "string"},
    {"name": "name", "type": "string"},
    {"name": "regionCode", "type": "uint32"},
    {"name": "industryCode", "type": "string"},
    {"name": "latitude", "type": "int32"},
    {"name": "longitude", "type": "int32"},
    {"name": "contacts", "type": "string"},
    {"name": "documents", "type": "bytes32[]"},
    {"name": "issuedAt", "type": "uint64"},
]


def application_typed_data(chain_id: int, registry: str, fields: ApplicationFields) -> dict[str, Any]:
    """The application as an ``eth_signTypedData_v4`` message.

    Raises:
        InvalidInputError: the account or the registry is not an address.
    """
    domain = Eip712Domain(chain_id, checked_address(registry, "registry"), DOMAIN_NAME, DOMAIN_VERSION)
    message = {
        "kind": fields.kind,
        "account": checked_address(fields.account, "account"),
        "creditCode": fields.credit_code,
        "name": fields.name,
        "regionCode": fields.region_code,
        "industryCode": fields.industry_code,
        "latitude": fields.latitude_e6,
        "longitude": fields.longitude_e6,
        "contacts": fields.contacts_text(),
        "documents": list(fields.documents),
        "issuedAt": fields.issued_at,
    }
    return typed_data(domain, "AccountApplication", {"AccountApplication": _APPLICATION_FIELDS}, message)


def application_digest(chain_id: int, registry: str, fields: ApplicationFields) -> bytes:
    """The EIP-712 digest of an application (what the wallet signs)."""
    return typed_digest(application_typed_data(chain_id, registry, fields))


def recover_applicant(
    chain_id: int, registry: str, fields: ApplicationFields, signature: bytes
) -> str | None:
    """The address ``signature`` recovers to over the application (None: malformed)."""
    return recover_typed(application_typed_data(chain_id, registry, fields), signature)


def sign_application(account: LocalAccount, chain_id: int, registry: str, fields: ApplicationFields) -> bytes:
    """``account``'s 65-byte signature of an application (CLI, tests and the demo)."""
    return sign_typed(account, application_typed_data(chain_id, registry, fields))


def profile_of(fields: ApplicationFields) -> EnterpriseProfile:
    """The registry profile an application asks for."""
    return EnterpriseProfile(
        fields.credit_code, fields.name, fields.region_code, fields.industry_code,
        fields.latitude_e6, fields.longitude_e6,
    )  # fmt: skip


def proposal_call(registry: RegistryClient, fields: ApplicationFields) -> bytes:
    """The registry call acceptance proposes: ``registerEnterprise`` or ``updateEnterprise``.

    Raises:
        InvalidInputError: a profile field the registry would refuse.
    """
    profile = profile_of(fields)
    if fields.kind == "register":
        return registry.encode_register_enterprise(fields.account, profile)
    return registry.encode_update_enterprise(fields.account, profile)


def sign_typed_data(account: LocalAccount, typed_data: dict[str, Any]) -> str:
    """``account``'s signature (0x hex) of an ``eth_signTypedData_v4`` message as the API built it
    (what a wallet does with ``POST /accounts/applications/typed-data``)."""
    return "0x" + sign_typed(account, typed_data).hex()
