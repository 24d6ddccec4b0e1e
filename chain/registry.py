"""Typed client of the ConsortiumRegistry: governance proposals, participants, devices."""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import is_address, keccak, to_checksum_address
from hexbytes import HexBytes
from web3.logs import DISCARD
from web3.types import TxReceipt

from chain.client import ContractClient
from chain.errors import ContractRevertError
from domain.codes import check_credit_code, check_industry_code, check_mn, check_region_code
from domain.errors import InvalidInputError

logger = logging.getLogger(__name__)

ROLE_NAMES = ("GOVERNOR", "REGULATOR", "EXCHANGE", "ENTERPRISE", "AUDITOR", "ORACLE")
ROLES: dict[str, bytes] = {name: keccak(text=f"{name}_ROLE") for name in ROLE_NAMES}


class Status(enum.IntEnum):
    """Participant status, as the contract's ``ParticipantStatus``."""

    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2


def role_id(name: str) -> bytes:
    """Role id for ``REGULATOR`` / ``regulator`` / ``REGULATOR_ROLE``.

    Raises:
        InvalidInputError: unknown role.
    """
    key = name.upper().removesuffix("_ROLE")
    if key not in ROLES:
        raise InvalidInputError(f"unknown role {name!r}; known: {', '.join(ROLE_NAMES)}")
    return ROLES[key]


def checked_address(value: str, what: str = "address") -> ChecksumAddress:
    """Checksummed address, refusing malformed and zero addresses.

    Raises:
        InvalidInputError: not a 20-byte hex address, or the zero address.
    """
    if not is_address(value):
        raise InvalidInputError(f"{what} {value!r} is not an address")
    address = to_checksum_address(value)
    if int(address, 16) == 0:
        raise InvalidInputError(f"{what} is the zero address")
    return address


@dataclass(frozen=True)
class EnterpriseProfile:
    """An enterprise's registry profile; location in micro-degrees (WGS 84)."""

    credit_code: str
    name: str
    region_code: int
    industry_code: str
    latitude: int
    longitude: int

    @classmethod
    def from_degrees(
        cls,
        *,
        credit_code: str,
        name: str,
        region_code: int,
        industry_code: str,
        latitude: float,
        longitude: float,
    ) -> EnterpriseProfile:
        return cls(
            credit_code, name, region_code, industry_code,
            round(latitude * 1_000_000), round(longitude * 1_000_000),
        )  # fmt: skip

    def validate(self) -> EnterpriseProfile:
        """Check every field as the contract will (before any transaction is built).

        Raises:
            InvalidInputError: the first defect found.
        """
        check_credit_code(self.credit_code)
        if not 0 < len(self.name.encode()) <= 200:
            raise InvalidInputError("enterprise name must be 1-200 bytes")
        check_region_code(self.region_code)
        check_industry_code(self.industry_code)
        if not (-90_000_000 <= self.latitude <= 90_000_000):
            raise InvalidInputError(f"latitude {self.latitude} micro-degrees is off the globe")
        if not (-180_000_000 <= self.longitude <= 180_000_000):
            raise InvalidInputError(f"longitude {self.longitude} micro-degrees is off the globe")
        return self

    def as_tuple(self) -> tuple[str, str, int, str, int, int]:
        return (
            self.credit_code, self.name, self.region_code, self.industry_code,
            self.latitude, self.longitude,
        )  # fmt: skip


@dataclass(frozen=True)
class Enterprise:
    """A registered enterprise with its status."""

    account: str
    profile: EnterpriseProfile
    status: Status


@dataclass(frozen=True)
class Device:
    """A device bound to an enterprise."""

    address: str
    enterprise: str
    mn: str
    bound_at: int


@dataclass(frozen=True)
class Proposal:
    """A governance proposal with its approvals counted among current members."""

    id: int
    proposer: str
    deadline: int
    executed: bool
    target: str
    data: bytes
    description: str
    approvals: int
    call: str


class RegistryClient(ContractClient):
    """Client of one deployed ConsortiumRegistry."""

    CONTRACT = "ConsortiumRegistry"

    # ------------------------------------------------------------------ proposal payloads

    def _encode(self, fn_name: str, *args: Any) -> bytes:
        return bytes(HexBytes(self.contract.encode_abi(fn_name, args=list(args))))

    def encode_grant_role(self, role: str, account: str) -> bytes:
        return self._encode("grantRole", role_id(role), checked_address(account))

    def encode_revoke_role(self, role: str, account: str) -> bytes:
        return self._encode("revokeRole", role_id(role), checked_address(account))

    def encode_register_enterprise(self, account: str, profile: EnterpriseProfile) -> bytes:
        profile.validate()
        return self._encode("registerEnterprise", checked_address(account), profile.as_tuple())

    def encode_update_enterprise(self, account: str, profile: EnterpriseProfile) -> bytes:
        profile.validate()
        p = profile
        return self._encode(
            "updateEnterprise", checked_address(account), p.name, p.region_code,
            p.industry_code, p.latitude, p.longitude,
        )  # fmt: skip

    def encode_suspend(self, account: str, reason_code: int = 0) -> bytes:
        if not 0 <= reason_code < 2**16:
            raise InvalidInputError(f"reason code {reason_code} must fit 16 bits")
        return self._encode("suspendParticipant", checked_address(account), reason_code)

    def encode_reinstate(self, account: str) -> bytes:
        return self._encode("reinstateParticipant", checked_address(account))

    def encode_set_threshold(self, threshold: int) -> bytes:
        return self._encode("setThreshold", threshold)

    def encode_set_lifetime(self, seconds: int) -> bytes:
        return self._encode("setProposalLifetime", seconds)

    def encode_multicall(self, calls: Sequence[bytes]) -> bytes:
        if not calls:
            raise InvalidInputError("a batch proposal needs at least one call")
        return self._encode("multicall", list(calls))

    def describe_call(self, data: bytes, target: str | None = None) -> str:
        """Human-readable form of a proposal's call (``registerEnterprise(0x.., ...)``)."""
        if target is not None and target.lower() != self.address.lower():
            for artifact in self.chain.artifacts.values():
                try:
                    fn, args = self.chain.contract(artifact.name, target).decode_function_input(data)
                except ValueError:
                    continue
                return f"{artifact.name}.{fn.fn_name}({', '.join(_show(v) for v in args.values())})"
            return f"{target}: 0x{data.hex()}"
        try:
            fn, args = self.contract.decode_function_input(data)
        except ValueError:
            return "0x" + data.hex()
        if fn.abi_element_identifier.startswith("multicall"):
            inner = [self.describe_call(bytes(c)) for c in args["data"]]
            return f"multicall[{len(inner)}]: " + "; ".join(inner[:3]) + (" ..." if len(inner) > 3 else "")
        shown = ", ".join("0x" + v.hex() if isinstance(v, bytes) else str(v) for v in args.values())
        return f"{fn.fn_name}({shown})"

    def preflight(self, data: bytes, target: str | None = None) -> None:
        """Simulate a proposal's call as the registry itself would execute it.

        Raises:
            ContractRevertError: the call would revert now (e.g. a duplicate enterprise).
        """
        to = checked_address(target, "target") if target else self.address
        try:
            self.chain.w3.eth.call({"from": self.address, "to": to, "data": data})
        except Exception as exc:  # web3 raises several kinds; map all to the decoded revert
            error = self.chain._as_revert(exc)
            raise error from None

    # ------------------------------------------------------------------ governance

    def propose(
        self,
        member: LocalAccount,
        data: bytes,
        description: str,
        *,
        target: str | None = None,
        preflight: bool = True,
    ) -> int:
        """Propose a call on the registry (or on ``target``); returns the proposal id.

        Raises:
            ContractRevertError: the call would fail (preflight) or the proposer is no member.
        """
        if preflight:
            self.preflight(data, target)
        to = checked_address(target, "target") if target else self.address
        receipt = self.chain.transact(self.contract.functions.propose(to, data, description), member)
        events = self.contract.events.ProposalCreated().process_receipt(receipt, errors=DISCARD)
        proposal_id = int(events[0]["args"]["proposalId"])
        logger.info("proposal created", extra={"proposal": proposal_id, "tx_hash": _h(receipt)})
        return proposal_id

    def approve(self, member: LocalAccount, proposal_id: int) -> TxReceipt:
        return self.chain.transact(self.contract.functions.approve(proposal_id), member)

    def execute(self, member: LocalAccount, proposal_id: int) -> TxReceipt:
        return self.chain.transact(self.contract.functions.execute(proposal_id), member)

    def govern(
        self,
        members: Sequence[LocalAccount],
        data: bytes,
        description: str,
        *,
        target: str | None = None,
    ) -> TxReceipt:
        """Propose with the first member, approve with the next ones up to the threshold, execute.

        Convenience for the demo and tests; in production each member acts on its own.
        """
        needed = self.threshold()
        if len(members) < needed:
            raise InvalidInputError(f"{len(members)} members given, threshold is {needed}")
        proposal_id = self.propose(members[0], data, description, target=target)
        for member in members[1:needed]:
            self.approve(member, proposal_id)
        return self.execute(members[0], proposal_id)

    def govern_call(self, members: Sequence[LocalAccount], fn: Any, description: str) -> TxReceipt:
        """:meth:`govern` a call of another contract (a web3 ``ContractFunction`` with its
        arguments bound), e.g. ``token.functions.setTreasury(address)``."""
        return self.govern(members, HexBytes(fn._encode_transaction_data()), description, target=fn.address)

    def grant_roles(
        self,
        members: Sequence[LocalAccount],
        grants: Sequence[tuple[str, str]],
        description: str = "grant roles",
    ) -> TxReceipt:
        """Grant several (role, account) pairs in one governance proposal (a multicall)."""
        calls = [self.encode_grant_role(role, account) for role, account in grants]
        return self.govern(members, self.encode_multicall(calls), description)

    # ------------------------------------------------------------------ devices

    def bind_device(
        self,
        regulator: LocalAccount,
        device: str,
        enterprise: str,
        mn: str,
        oracle: str | None = None,
    ) -> TxReceipt:
        """Bind ``device`` to ``enterprise`` under ``mn``; with ``oracle``, also set the oracle
        that may anchor its readings (a second transaction, :meth:`set_device_oracle`).

        Returns:
            The receipt of the binding.

        Raises:
            InvalidInputError: a malformed address or MN.
            ContractRevertError: the registry refused (e.g. ``RegistryDuplicateMn``).
        """
        fn = self.contract.functions.bindDevice(
            checked_address(device, "device"),
            checked_address(enterprise, "enterprise"),
            check_mn(mn),
        )
        if oracle is not None:
            checked_address(oracle, "oracle")
        receipt = self.chain.transact(fn, regulator)
        if oracle is not None:
            self.set_device_oracle(regulator, device, oracle)
        return receipt

    def unbind_device(self, regulator: LocalAccount, device: str) -> TxReceipt:
        """Unbind ``device``; this also clears its oracle."""
        fn = self.contract.functions.unbindDevice(checked_address(device, "device"))
        return self.chain.transact(fn, regulator)

    def set_device_oracle(self, regulator: LocalAccount, device: str, oracle: str) -> TxReceipt:
        """Set the oracle (site gateway key) that alone may anchor ``device``'s readings.

        Raises:
            ContractRevertError: ``RegistryDeviceUnknown``, ``RegistryNotOracle``, ``RegistryWrongStatus``.
        """
        fn = self.contract.functions.setDeviceOracle(
            checked_address(device, "device"), checked_address(oracle, "oracle")
        )
        return self.chain.transact(fn, regulator)

    def oracle_of(self, device: str) -> str | None:
        """The oracle that may anchor ``device``'s readings, ``None`` when none is set."""
        address = str(self.contract.functions.oracleOf(checked_address(device, "device")).call())
        return None if int(address, 16) == 0 else address

    # ------------------------------------------------------------------ auditors

    def assign_auditor(self, regulator: LocalAccount, auditor: str, enterprise: str) -> TxReceipt:
        """Assign ``auditor`` to verify ``enterprise`` (it may then attest and read its records).

        Raises:
            ContractRevertError: ``RegistryNotAuditor``, ``RegistryNotEnterprise``,
                ``RegistryAuditorAlreadyAssigned``.
        """
        fn = self.contract.functions.assignAuditor(
            checked_address(auditor, "auditor"), checked_address(enterprise, "enterprise")
        )
        return self.chain.transact(fn, regulator)

    def unassign_auditor(self, regulator: LocalAccount, auditor: str, enterprise: str) -> TxReceipt:
        """End ``auditor``'s assignment to ``enterprise``.

        Raises:
            ContractRevertError: ``RegistryAuditorNotAssigned``.
        """
        fn = self.contract.functions.unassignAuditor(
            checked_address(auditor, "auditor"), checked_address(enterprise, "enterprise")
        )
        return self.chain.transact(fn, regulator)

    def is_auditor_assigned(self, auditor: str, enterprise: str) -> bool:
        fn = self.contract.functions.isAuditorAssigned(
            checked_address(auditor, "auditor"), checked_address(enterprise, "enterprise")
        )
        return bool(fn.call())

    def enterprises_of_auditor(self, auditor: str) -> list[str]:
        """Enterprises ``auditor`` is assigned to (unordered)."""
        return list(self.contract.functions.enterprisesOfAuditor(checked_address(auditor, "auditor")).call())

    # ------------------------------------------------------------------ views

    def threshold(self) -> int:
        return int(self.contract.functions.threshold().call())

    def members(self) -> list[str]:
        return list(self.contract.functions.members().call())

    def has_role(self, role: str, account: str) -> bool:
        return bool(self.contract.functions.hasRole(role_id(role), checked_address(account)).call())

    def role_members(self, role: str) -> list[str]:
        return list(self.contract.functions.getRoleMembers(role_id(role)).call())

    def status_of(self, account: str) -> Status:
        return Status(self.contract.functions.statusOf(checked_address(account)).call())

    def is_active_participant(self, account: str) -> bool:
        return bool(self.contract.functions.isActiveParticipant(checked_address(account)).call())

    def transaction_allowed(self, sender: str) -> bool:
        fn = self.contract.functions.transactionAllowed(checked_address(sender), self.address, 0, 0, 0, b"")
        return bool(fn.call())

    def enterprise(self, account: str) -> Enterprise:
        """A registered enterprise.

        Raises:
            ContractRevertError: ``RegistryNotEnterprise``.
        """
        raw = self.chain.call(self.contract.functions.getEnterprise(checked_address(account)))
        return Enterprise(to_checksum_address(account), EnterpriseProfile(*raw), self.status_of(account))

    def enterprise_count(self) -> int:
        return int(self.contract.functions.enterpriseCount().call())

    def enterprises(self, start: int = 0, limit: int | None = None) -> list[Enterprise]:
        count = self.enterprise_count()
        stop = count if limit is None else min(count, start + limit)
        fns = self.contract.functions
        return [self.enterprise(fns.enterpriseAt(i).call()) for i in range(start, stop)]

    def enterprise_by_credit_code(self, code: str) -> str | None:
        address = str(self.contract.functions.enterpriseByCreditCode(code).call())
        return None if int(address, 16) == 0 else address

    def device(self, address: str) -> Device:
        raw = self.chain.call(self.contract.functions.getDevice(checked_address(address, "device")))
        return Device(to_checksum_address(address), raw[0], raw[1], int(raw[2]))

    def enterprise_of(self, device: str) -> str | None:
        """The enterprise ``device`` is bound to, ``None`` when it is not registered
        (:class:`oracle.gateway.DeviceDirectory`)."""
        try:
            return self.device(device).enterprise
        except ContractRevertError as error:
            if error.error == "RegistryDeviceUnknown":
                return None
            raise

    def devices(self, enterprise: str | None = None) -> list[Device]:
        fns = self.contract.functions
        if enterprise is not None:
            addresses = list(fns.devicesOf(checked_address(enterprise, "enterprise")).call())
        else:
            addresses = [fns.deviceAt(i).call() for i in range(fns.deviceCount().call())]
        return [self.device(a) for a in addresses]

    def proposal(self, proposal_id: int) -> Proposal:
        raw = self.chain.call(self.contract.functions.getProposal(proposal_id))
        approvals = int(self.contract.functions.approvalCount(proposal_id).call())
        target, data = str(raw[3]), bytes(raw[4])
        return Proposal(
            proposal_id, raw[0], int(raw[1]), bool(raw[2]), target, data, raw[5], approvals,
            self.describe_call(data, target),
        )  # fmt: skip

    def proposals(self) -> list[Proposal]:
        count = int(self.contract.functions.proposalCount().call())
        return [self.proposal(i) for i in range(1, count + 1)]


def _show(value: Any) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


def _h(receipt: TxReceipt) -> str:
    return HexBytes(receipt["transactionHash"]).to_0x_hex()


__all__ = [
    "ROLES",
    "ContractRevertError",
    "Device",
    "Enterprise",
    "EnterpriseProfile",
    "Proposal",
    "RegistryClient",
    "Status",
    "checked_address",
    "role_id",
]
