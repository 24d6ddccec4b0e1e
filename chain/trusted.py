"""Trusted counterparties on-chain: typed client of TrustedCounterparties (each enterprise's list,
additions in effect after the governed delay), its deployment and its governance wiring into the
AllowanceToken's transfer path."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from chain.client import ContractClient
from chain.deploy import ContractSpec, Manifest, SuiteConfig, deploy_suite
from chain.registry import RegistryClient, checked_address
from chain.tx import ChainClient
from domain.trusted import DEFAULT_DELAY_SECONDS, DEFAULT_LIMIT

logger = logging.getLogger(__name__)


def trusted_suite(delay: int = DEFAULT_DELAY_SECONDS, limit: int = DEFAULT_LIMIT) -> tuple[ContractSpec, ...]:
    """The TrustedCounterparties contract as a deployment step (args: registry, delay, limit)."""
    return (ContractSpec("TrustedCounterparties", lambda _, d: [d["ConsortiumRegistry"], delay, limit]),)


class TrustedClient(ContractClient):
    """Client of the deployed TrustedCounterparties."""

    CONTRACT = "TrustedCounterparties"

    def add_call(self, enterprise: str, counterparty: str) -> ContractFunction:
        """The unsent ``addCounterparty`` (a wallet or a Safe sends it for ``enterprise``)."""
        return self.contract.functions.addCounterparty(
            checked_address(enterprise, "enterprise"), checked_address(counterparty, "counterparty")
        )

    def remove_call(self, enterprise: str, counterparty: str) -> ContractFunction:
        return self.contract.functions.removeCounterparty(
            checked_address(enterprise, "enterprise"), checked_address(counterparty, "counterparty")
        )

    def add(self, enterprise: LocalAccount, counterparty: str) -> TxReceipt:
        return self.chain.transact(self.add_call(enterprise.address, counterparty), enterprise)

    def remove(self, enterprise: LocalAccount, counterparty: str) -> TxReceipt:
        return self.chain.transact(self.remove_call(enterprise.address, counterparty), enterprise)

    def delay(self) -> int:
        return int(self.chain.call(self.contract.functions.delay()))

    def limit(self) -> int:
        return int(self.chain.call(self.contract.functions.limit()))

    def active_from(self, enterprise: str, counterparty: str) -> int:
        fn = self.contract.functions.activeFrom(checked_address(enterprise), checked_address(counterparty))
        return int(self.chain.call(fn))

    def is_trusted(self, enterprise: str, counterparty: str) -> bool:
        fn = self.contract.functions.isTrusted(checked_address(enterprise), checked_address(counterparty))
        return bool(self.chain.call(fn))

    def counterparties(self, enterprise: str) -> list[ChecksumAddress]:
        fn = self.contract.functions.counterparties(checked_address(enterprise))
        return [to_checksum_address(a) for a in self.chain.call(fn)]

    def transfer_limit(self, sender: str, receiver: str) -> int:
        fn = self.contract.functions.transferLimit(checked_address(sender), checked_address(receiver))
        return int(self.chain.call(fn))


def wiring_call(trusted: TrustedClient, token_address: str) -> tuple[str, bytes] | None:
    """The governance call wiring ``trusted`` into the AllowanceToken at ``token_address`` as
    (target, calldata), or None when it is in place."""
    token = trusted.chain.contract("AllowanceToken", token_address)
    if trusted.chain.call(token.functions.trustedCounterparties()) == trusted.address:
        return None
    fn = token.functions.setTrustedCounterparties(trusted.address)
    return token.address, bytes(HexBytes(fn._encode_transaction_data()))


def deploy_trusted(
    chain: ChainClient,
    deployer: LocalAccount,
    config: SuiteConfig,
    manifest_path: Path,
    *,
    delay: int = DEFAULT_DELAY_SECONDS,
    limit: int = DEFAULT_LIMIT,
) -> tuple[Manifest, TrustedClient]:
    """Deploy TrustedCounterparties into the suite's manifest (nothing twice)."""
    manifest = deploy_suite(chain, deployer, config, manifest_path, suite=trusted_suite(delay, limit))
    record = manifest.contracts["TrustedCounterparties"]
    return manifest, TrustedClient(chain, record.address, from_block=record.block)


def wire_trusted(
    registry: RegistryClient, members: Sequence[LocalAccount], trusted: TrustedClient, token_address: str
) -> list[str]:
    """Governance set-up: the AllowanceToken at ``token_address`` asks ``trusted`` on direct
    transfers (skipped if in place).

    Returns:
        What was done, one line per governance proposal executed.
    """
    token = trusted.chain.contract("AllowanceToken", token_address)
    if trusted.chain.call(token.functions.trustedCounterparties()) == trusted.address:
        return []
    registry.govern_call(
        members, token.functions.setTrustedCounterparties(trusted.address), "trusted counterparties"
    )
    logger.info("trusted counterparties wired", extra={"contract": trusted.address})
    return ["AllowanceToken: transfers to untrusted accounts limited by TrustedCounterparties"]
