"""The demo's IC cards tied to rights: EmissionCards deployed into the demo deployment and admitted
by governance as a system contract of the AllowanceToken; the regulator issues a card to
enterprise-1 and enterprise-2 for their monitoring devices; enterprise-1 commits SO2 2027 to its
card for March (a month's load, its own transaction), buys more SO2 2027 from enterprise-2 over
the counter (a direct transfer: the demo market lists CO2 only) and commits it too (a recharge);
a transfer of the committed allowances is refused by name (``ERC1155InsufficientBalance``: they
are in the card's custody, not in the balance); the card balance and the quota the controller's
swipe loads are read back from the chain.

Runs after the compliance and reserve steps (it only needs devices bound and SO2 2027 held by the
two enterprises). A re-run finds the cards issued and the month loaded, and sends nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chain.accounts import Signer, demo_account
from chain.allowance import AllowanceClient
from chain.cards import CARDS_SUITE, CardsClient, ChainCardQuotas, wire_cards
from chain.deploy import Manifest, SuiteConfig, deploy_suite
from chain.errors import ContractRevertError
from chain.registry import RegistryClient
from chain.tx import ChainClient
from domain.tokens import Kind, encode_id

YEAR, MONTH = 2027, 3
SO2_2027 = encode_id(Kind.ALLOWANCE, "SO2", YEAR)
#: Card numbers issued to enterprise-1 and enterprise-2 (Taizhou region prefix, serial).
CARDS = (3310020001, 3310020002)
#: Tonnes of SO2 2027 enterprise-1 commits for March at most (its load), bought and recharged.
LOAD, PURCHASE = 300, 40


@dataclass
class CardsDemoReport:
    """What the cards step did (``lines`` for the demo report) and where it stands."""

    lines: list[str] = field(default_factory=list)
    manifest: Manifest | None = None
    committed: int = 0
    refusals: list[str] = field(default_factory=list)


def _device(index: int) -> str:
    return demo_account(f"enterprise-{index + 7}").address  # the demo's device keys


def demo_cards(
    chain: ChainClient, manifest_path: Path, registry: RegistryClient, members: Sequence[Signer]
) -> CardsDemoReport:
    """Deploy and wire the cards, issue two cards, load March, buy and recharge, show a refused
    transfer of committed allowances and the card balance; each done once."""
    report = CardsDemoReport()
    regulator = demo_account("regulator")
    e1, e2 = demo_account("enterprise-1"), demo_account("enterprise-2")
    config = SuiteConfig(members=tuple(m.address for m in members), threshold=2)
    manifest = deploy_suite(chain, demo_account("deployer"), config, manifest_path, suite=CARDS_SUITE)
    report.manifest = manifest
    record = manifest.contracts["EmissionCards"]
    cards = CardsClient(chain, record.address, from_block=record.block)
    allowance = AllowanceClient(chain, manifest.address("AllowanceToken"))
    report.lines += [f"cards: {line} (2-of-3 governance)" for line in wire_cards(registry, members, cards)]
    issued = 0
    for index, number in enumerate(CARDS):
        if cards.card(number).status == 0 and cards.card_of_device(_device(index)) == 0:
            cards.issue(regulator, number, _device(index))
            issued += 1
    if issued:
        report.lines.append(
            f"cards: regulator issued IC cards {CARDS[0]} (enterprise-1) and {CARDS[1]} (enterprise-2) "
            "beside their monitoring devices"
        )
    month = cards.month(CARDS[0], SO2_2027, MONTH)
    if month.committed == 0:
        load = min(LOAD, allowance.balance(e1.address, SO2_2027))
        if load == 0:
            report.lines.append(f"cards: enterprise-1 holds no SO2 {YEAR}; nothing to load")
            return report
        cards.load(e1, CARDS[0], SO2_2027, MONTH, load)
        report.lines.append(
            f"cards: enterprise-1 loaded {load:,} t SO2 {YEAR} onto card {CARDS[0]} for {YEAR}-{MONTH:02d} "
            "(its own transaction; the allowances move into the cards contract's custody)"
        )
        bought = min(PURCHASE, allowance.balance(e2.address, SO2_2027))
        if bought:
            allowance.transfer(e2, e1.address, SO2_2027, bought)
            cards.load(e1, CARDS[0], SO2_2027, MONTH, bought)
            report.lines.append(
                f"cards: enterprise-1 bought {bought:,} t SO2 {YEAR} from enterprise-2 over the counter "
                f"(a direct transfer: the demo market lists CO2 only) and recharged card "
                f"{CARDS[0]}: {cards.month(CARDS[0], SO2_2027, MONTH).committed:,} t committed for March"
            )
        free = allowance.balance(e1.address, SO2_2027)
        try:
            allowance.transfer(e1, e2.address, SO2_2027, free + 1)
        except ContractRevertError as refused:
            report.refusals.append(refused.error)
            report.lines.append(
                f"cards: enterprise-1's transfer of {free + 1:,} t (its {free:,} t free plus committed ones) "
                f"refused: {refused.error} (committed allowances cannot be sold or transferred)"
            )
    report.committed = cards.month(CARDS[0], SO2_2027, MONTH).committed
    swipe_kg = ChainCardQuotas(cards, registry).committed_kg(
        registry.device(_device(0)).mn, "a21026", YEAR, MONTH
    )
    report.lines.append(
        f"cards: card {CARDS[0]} balance {YEAR}-{MONTH:02d}: {report.committed:,} t SO2 committed "
        f"(custody {cards.custody(SO2_2027):,} t); the swipe loads {swipe_kg:,} kg as the month's quota; "
        f"enterprise-1 keeps {allowance.balance(e1.address, SO2_2027):,} t SO2 {YEAR} free to trade"
    )
    return report
