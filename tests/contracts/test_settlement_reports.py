"""SettlementReports on a real Anvil: the exchange anchors one signed report hash per trading day;
every other caller, a second report of the same day, bad days, zero hashes and signatures that
do not recover to an exchange account are refused with their custom errors."""

from __future__ import annotations

import hashlib

import pytest
from eth_account.signers.local import LocalAccount
from web3.logs import DISCARD

from chain.accounts import dev_account
from chain.registry import ROLES
from chain.settlement import SettlementReportsClient
from tests.conftest import Consortium
from tests.utils.chain import register, reverts

DAY = 20270630
HASH = hashlib.sha256(b"settlement report 2027-06-30").digest()
ENTERPRISE = dev_account(31)


@pytest.fixture
def reports(fresh: Consortium) -> SettlementReportsClient:
    return SettlementReportsClient(fresh.chain, fresh.manifest.address("SettlementReports"))


def _callers(c: Consortium) -> dict[str, LocalAccount]:
    return {
        "regulator": c.regulator,
        "industry_body": c.industry_body,
        "auditor": c.auditor,
        "oracle": c.oracle,
        "enterprise": ENTERPRISE,
        "outsider": c.outsider,
    }


def test_publish_stores_report_and_emits_event_when_exchange_signs(
    fresh: Consortium, reports: SettlementReportsClient
) -> None:
    receipt = reports.publish(fresh.exchange, DAY, HASH)
    event = reports.contract.events.ReportPublished().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert (event["tradingDay"], bytes(event["reportHash"])) == (DAY, HASH)
    assert event["signer"] == event["publisher"] == fresh.exchange.address
    stored = reports.report(DAY)
    assert stored is not None
    assert (stored.report_hash, stored.signer, stored.publisher) == (
        HASH,
        fresh.exchange.address,
        fresh.exchange.address,
    )
    assert stored.published_at == fresh.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert reports.recover_signer(stored) == fresh.exchange.address
    assert reports.verify(DAY, HASH)
    assert not reports.verify(DAY, hashlib.sha256(b"altered").digest())
    assert not reports.verify(DAY + 1, HASH)
    assert reports.contract.functions.lastTradingDay().call() == DAY


def test_report_reads_none_when_day_not_published(reports: SettlementReportsClient) -> None:
    assert reports.report(DAY) is None
    assert not reports.verify(DAY, HASH)
    assert not reports.verify(DAY, bytes(32))


def test_last_trading_day_keeps_latest_when_earlier_day_published_after(
    fresh: Consortium, reports: SettlementReportsClient
) -> None:
    reports.publish(fresh.exchange, DAY, HASH)
    reports.publish(fresh.exchange, DAY - 1, HASH)
    assert reports.contract.functions.lastTradingDay().call() == DAY


@pytest.mark.parametrize("who", ["regulator", "industry_body", "auditor", "oracle", "enterprise", "outsider"])
def test_publish_refused_when_caller_not_exchange(
    fresh: Consortium, reports: SettlementReportsClient, who: str
) -> None:
    if who == "enterprise":
        register(fresh.registry, fresh.members, ENTERPRISE.address, seed=31)
    caller = _callers(fresh)[who]
    signature = reports.sign(fresh.exchange, DAY, HASH)
    with reverts("UnauthorizedRole", account=caller.address, role=ROLES["EXCHANGE"]):
        reports.publish(caller, DAY, HASH, signature=signature)
    assert reports.report(DAY) is None


def test_publish_refused_when_day_already_published(
    fresh: Consortium, reports: SettlementReportsClient
) -> None:
    reports.publish(fresh.exchange, DAY, HASH)
    other = hashlib.sha256(b"a second version").digest()
    with reverts("ReportAlreadyPublished", tradingDay=DAY, existingHash=HASH):
        reports.publish(fresh.exchange, DAY, other)
    with reverts("ReportAlreadyPublished", tradingDay=DAY, existingHash=HASH):
        reports.publish(fresh.exchange, DAY, HASH)
    assert reports.report(DAY).report_hash == HASH  # type: ignore[union-attr]


@pytest.mark.parametrize("day", [0, 19991231, 22010101, 20271301, 20270001, 20270600, 20270632])
def test_publish_refused_when_day_not_yyyymmdd(
    fresh: Consortium, reports: SettlementReportsClient, day: int
) -> None:
    with reverts("ReportInvalidDay", tradingDay=day):
        reports.publish(fresh.exchange, day, HASH)


def test_publish_refused_when_hash_zero(fresh: Consortium, reports: SettlementReportsClient) -> None:
    with reverts("ReportZeroHash", tradingDay=DAY):
        reports.publish(fresh.exchange, DAY, bytes(32))


def test_publish_refused_when_signer_not_exchange(
    fresh: Consortium, reports: SettlementReportsClient
) -> None:
    with reverts("ReportSignerNotExchange", tradingDay=DAY, signer=fresh.regulator.address):
        reports.publish(fresh.exchange, DAY, HASH, signer=fresh.regulator)


def test_publish_refused_when_signature_is_for_another_day(
    fresh: Consortium, reports: SettlementReportsClient
) -> None:
    replayed = reports.sign(fresh.exchange, DAY - 1, HASH)
    with reverts("ReportSignerNotExchange", tradingDay=DAY) as info:
        reports.publish(fresh.exchange, DAY, HASH, signature=replayed)
    assert info.value.args_["signer"].lower() != fresh.exchange.address.lower()


@pytest.mark.parametrize("signature", [b"", bytes(64), bytes(65), b"\x01" * 66])
def test_publish_refused_when_signature_malformed(
    fresh: Consortium, reports: SettlementReportsClient, signature: bytes
) -> None:
    with reverts("ReportInvalidSignature", tradingDay=DAY):
        reports.publish(fresh.exchange, DAY, HASH, signature=signature)
