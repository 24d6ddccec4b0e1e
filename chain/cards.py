"""IC cards on-chain: typed client of EmissionCards (cards beside devices, monthly loads of
committed allowances, month-end settlement), its deployment, its governance wiring as a system
contract of the AllowanceToken, and the quota reader the oracle's card swipe uses."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum
from pathlib import Path

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from chain.client import ContractClient
from chain.deploy import ContractSpec, Manifest, SuiteConfig, deploy_suite
from chain.registry import RegistryClient, checked_address
from chain.tx import ChainClient
from domain.production import HJ212_ALLOWANCE
from domain.tokens import Kind, encode_id

logger = logging.getLogger(__name__)

#: Kilograms per tonne: allowances are whole tonnes, the controller counts kilograms.
KG_PER_TONNE = Decimal(1000)

#: EmissionCards as a deployment step (args: registry, allowance token).
CARDS_SUITE = (ContractSpec("EmissionCards", lambda _, d: [d["ConsortiumRegistry"], d["AllowanceToken"]]),)


class CardStatus(IntEnum):
    """Lifecycle of a card number (``IEmissionCards.CardStatus``)."""

    NONE = 0
    ACTIVE = 1
    REPLACED = 2
    REVOKED = 3


@dataclass(frozen=True)
class Card:
    """A card: its number, the enterprise and device it serves, its account (the first card's
    number, kept by replacements), status and issue time."""

    number: int
    enterprise: ChecksumAddress
    device: ChecksumAddress
    account: int
    status: CardStatus
    issued_at: int


@dataclass(frozen=True)
class CardMonth:
    """One card account's month for one allowance id."""

    committed: int
    used: int
    settled: bool


class CardsClient(ContractClient):
    """Client of the deployed EmissionCards."""

    CONTRACT = "EmissionCards"

    # --- the regulator -----------------------------------------------------------------------
    def issue(self, regulator: LocalAccount, card: int, device: str) -> TxReceipt:
        fn = self.contract.functions.issueCard(card, checked_address(device, "device"))
        return self.chain.transact(fn, regulator)

    def replace(self, regulator: LocalAccount, old_card: int, new_card: int) -> TxReceipt:
        return self.chain.transact(self.contract.functions.replaceCard(old_card, new_card), regulator)

    def revoke(self, regulator: LocalAccount, card: int, reason_code: int = 0) -> TxReceipt:
        return self.chain.transact(self.contract.functions.revokeCard(card, reason_code), regulator)

    def release_for_surrender(self, regulator: LocalAccount, enterprise: str, token_id: int) -> TxReceipt:
        fn = self.contract.functions.releaseForSurrender(checked_address(enterprise, "enterprise"), token_id)
        return self.chain.transact(fn, regulator)

    # --- the enterprise (its own wallet) -------------------------------------------------------
    def load_call(self, card: int, token_id: int, month: int, amount: int) -> ContractFunction:
        """The unsent ``load`` (a load or a recharge; the enterprise's wallet sends it)."""
        return self.contract.functions.load(card, token_id, month, amount)

    def approve_call(self) -> ContractFunction:
        """The unsent ``setApprovalForAll(cards, true)`` on the AllowanceToken, needed once before a load."""
        token = self.chain.contract("AllowanceToken", self.allowance_token())
        return token.functions.setApprovalForAll(self.address, True)

    def load(self, enterprise: LocalAccount, card: int, token_id: int, month: int, amount: int) -> TxReceipt:
        """Commit ``amount`` of ``token_id`` to ``card`` for ``month``, approving the cards contract
        on the token first when needed."""
        token = self.chain.contract("AllowanceToken", self.allowance_token())
        if not self.chain.call(token.functions.isApprovedForAll(enterprise.address, self.address)):
            self.chain.transact(self.approve_call(), enterprise)
        return self.chain.transact(self.load_call(card, token_id, month, amount), enterprise)

    # --- the oracle ----------------------------------------------------------------------------
    def settle_month(
        self, oracle: LocalAccount, card: int, token_id: int, month: int, metered: int
    ) -> TxReceipt:
        fn = self.contract.functions.settleMonth(card, token_id, month, metered)
        return self.chain.transact(fn, oracle)

    # --- views ---------------------------------------------------------------------------------
    def card(self, number: int) -> Card:
        raw = self.chain.call(self.contract.functions.getCard(number))
        return Card(
            number,
            to_checksum_address(raw[0]),
            to_checksum_address(raw[1]),
            int(raw[2]),
            CardStatus(int(raw[3])),
            int(raw[4]),
        )

    def card_of_device(self, device: str) -> int:
        return int(self.chain.call(self.contract.functions.cardOfDevice(checked_address(device, "device"))))

    def cards_of(self, enterprise: str) -> list[Card]:
        numbers = self.chain.call(self.contract.functions.cardsOf(checked_address(enterprise, "enterprise")))
        return [self.card(int(n)) for n in numbers]

    def month(self, card: int, token_id: int, month: int) -> CardMonth:
        raw = self.chain.call(self.contract.functions.cardMonth(card, token_id, month))
        return CardMonth(int(raw[0]), int(raw[1]), bool(raw[2]))

    def held_for_surrender(self, enterprise: str, token_id: int) -> int:
        fn = self.contract.functions.heldForSurrender(checked_address(enterprise, "enterprise"), token_id)
        return int(self.chain.call(fn))

    def custody(self, token_id: int) -> int:
        return int(self.chain.call(self.contract.functions.custody(token_id)))

    def allowance_token(self) -> ChecksumAddress:
        return to_checksum_address(self.chain.call(self.contract.functions.allowanceToken()))


class ChainCardQuotas:
    """The oracle's card-quota port on the chain (``oracle.quota.CardQuotas``): a device's month
    quota is what is committed to its active card for the month, in kilograms; ``None`` when the
    device has no active card or the pollutant is no allowance (the site file applies then)."""

    def __init__(
        self, cards: CardsClient, registry: RegistryClient, oracle: LocalAccount | None = None
    ) -> None:
        self._cards = cards
        self._registry = registry
        self._oracle = oracle

    def committed_tonnes(self, device: str, symbol: str, year: int, month: int) -> int | None:
        """Tonnes committed to ``device``'s active card for allowance ``symbol`` (e.g. ``"SO2"``)."""
        card = self._cards.card_of_device(device)
        if card == 0:
            return None
        return self._cards.month(card, encode_id(Kind.ALLOWANCE, symbol, year), month).committed

    def _device(self, mn: str) -> str | None:
        device = str(self._registry.contract.functions.deviceByMn(mn).call())
        return None if int(device, 16) == 0 else device

    def committed_kg(self, mn: str, pollutant: str, year: int, month: int) -> Decimal | None:
        symbol = HJ212_ALLOWANCE.get(pollutant)
        device = self._device(mn) if symbol is not None else None
        if symbol is None or device is None:
            return None
        tonnes = self.committed_tonnes(device, symbol, year, month)
        return None if tonnes is None else Decimal(tonnes) * KG_PER_TONNE

    def month_closed(self, mn: str, pollutant: str, year: int, month: int, used_kg: Decimal) -> None:
        """Settle the card's month with the metered use in whole tonnes, rounded up (never less
        than was measured); nothing without an oracle key, a card, or a commitment."""
        symbol = HJ212_ALLOWANCE.get(pollutant)
        device = self._device(mn) if symbol is not None else None
        if self._oracle is None or symbol is None or device is None:
            return
        card = self._cards.card_of_device(device)
        token_id = encode_id(Kind.ALLOWANCE, symbol, year)
        if card == 0:
            return
        state = self._cards.month(card, token_id, month)
        if state.settled or state.committed == 0:
            return
        metered = math.ceil(used_kg / KG_PER_TONNE)
        self._cards.settle_month(self._oracle, card, token_id, month, metered)
        logger.info(
            "card %s settled %04d-%02d: %s t metered of %s t committed",
            card, year, month, metered, state.committed, extra={"device": device, "card": card},
        )  # fmt: skip


def deploy_cards(
    chain: ChainClient, deployer: LocalAccount, config: SuiteConfig, manifest_path: Path
) -> tuple[Manifest, CardsClient]:
    """Deploy EmissionCards into the suite's manifest (nothing twice)."""
    manifest = deploy_suite(chain, deployer, config, manifest_path, suite=CARDS_SUITE)
    record = manifest.contracts["EmissionCards"]
    return manifest, CardsClient(chain, record.address, from_block=record.block)


def wire_cards(registry: RegistryClient, members: Sequence[LocalAccount], cards: CardsClient) -> list[str]:
    """Governance set-up: the AllowanceToken admits the cards contract as a system contract (it
    holds committed allowances in custody), skipped if in place.

    Returns:
        What was done, one line per governance proposal executed.
    """
    token = cards.chain.contract("AllowanceToken", cards.allowance_token())
    if cards.chain.call(token.functions.isSystemContract(cards.address)):
        return []
    registry.govern_call(
        members, token.functions.setSystemContract(cards.address, True), "IC cards hold allowances"
    )
    logger.info("cards wired", extra={"contract": cards.address})
    return ["AllowanceToken: EmissionCards admitted as a system contract (custody of committed allowances)"]
