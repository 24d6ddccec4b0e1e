"""Factories of the cards tests: a consortium with EmissionCards deployed into a copy of its
manifest, two enterprises with a bound device and a card each, and a month loaded and settled."""

from __future__ import annotations

import shutil
from pathlib import Path

from chain.accounts import dev_account
from chain.cards import CardsClient, deploy_cards, wire_cards
from chain.deploy import SuiteConfig
from domain.tokens import Kind, encode_id
from tests.conftest import Consortium
from tests.utils.chain import register

SO2_2027 = encode_id(Kind.ALLOWANCE, "SO2", 2027)
E1, E2 = dev_account(26), dev_account(27)
DEVICES = (dev_account(24).address, dev_account(25).address)
MNS = ("33100000000011CARD", "33100000000012CARD")
CARDS = (5_001, 5_002)
NEW_CARD = 5_003


def cards_world(c: Consortium, directory: Path) -> CardsClient:
    """Register E1 and E2 (1,000 and 500 t SO2 2027), bind a device of each (E1's oracle set),
    deploy and wire EmissionCards into ``directory/deployment.json`` (``c.manifest`` updated), issue
    a card to each; E1 loads 600 t for March and recharges 100 t, E2 loads 200 t for March; the
    oracle settles E2's March at 150 t; E1's card is replaced by :data:`NEW_CARD`."""
    for seed, e in ((961, E1), (962, E2)):
        if not c.registry.is_active_participant(e.address):
            register(c.registry, c.members, e.address, seed=seed)
    c.registry.bind_device(c.regulator, DEVICES[0], E1.address, MNS[0], oracle=c.oracle.address)
    c.registry.bind_device(c.regulator, DEVICES[1], E2.address, MNS[1])
    c.allowance.set_cap(c.regulator, SO2_2027, c.allowance.issued(SO2_2027) + 1_500)
    batch = b"cards".ljust(32, b"\0")
    c.allowance.allocate(c.regulator, SO2_2027, [E1.address, E2.address], [1_000, 500], batch)
    manifest_path = directory / "deployment.json"
    shutil.copy(c.manifest_path, manifest_path)
    config = SuiteConfig(members=tuple(m.address for m in c.members), threshold=2)
    c.manifest, cards = deploy_cards(c.chain, c.members[0], config, manifest_path)
    c.manifest_path = manifest_path
    wire_cards(c.registry, c.members, cards)
    for card, device in zip(CARDS, DEVICES, strict=True):
        cards.issue(c.regulator, card, device)
    cards.load(E1, CARDS[0], SO2_2027, 3, 600)
    cards.load(E1, CARDS[0], SO2_2027, 3, 100)
    cards.load(E2, CARDS[1], SO2_2027, 3, 200)
    cards.settle_month(c.oracle, CARDS[1], SO2_2027, 3, 150)
    cards.replace(c.regulator, CARDS[0], NEW_CARD)
    return cards
