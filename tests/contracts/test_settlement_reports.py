"""SettlementReports on a real Anvil: the exchange anchors one signed report hash per trading day;
every other caller, a second report of the same day, bad days, future days, zero hashes and
signatures that do not recover to an exchange account are refused with their custom errors; a
published day changes only by a governed correction, which keeps every revision."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from eth_account.signers.local import LocalAccount
from web3.logs import DISCARD

from chain.accounts import dev_account
from chain.errors import ContractRevertError
from chain.registry import ROLES
from chain.settlement import SettlementReportsClient
from tests.conftest import Consortium
from tests.utils.chain import register, reverts

DAY = 20260630  # a past trading day: the chain's clock is the machine's (days after it are refused)
HASH = hashlib.sha256(b"settlement report 2026-06-30").digest()
CORRECTED = hashlib.sha256(b"settlement report 2026-06-30, corrected").digest()
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


# ---------------------------------------------------------------------- future days (issue 17 item 16)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _mine_at(c: Consortium, timestamp: int) -> None:
    c.chain.w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])  # type: ignore[arg-type]
    c.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def _day_code(timestamp: int) -> int:
    return int(datetime.fromtimestamp(timestamp, SHANGHAI).strftime("%Y%m%d"))


def test_current_trading_day_is_block_date_in_shanghai(
    fresh: Consortium, reports: SettlementReportsClient
) -> None:
    assert reports.current_trading_day() == _day_code(fresh.chain.timestamp())
    instants = [
        datetime(2028, 2, 28, 15, 59, 59, tzinfo=UTC),  # 23:59:59 in Shanghai
        datetime(2028, 2, 28, 16, 0, 0, tzinfo=UTC),  # midnight: a leap day
        datetime(2028, 12, 31, 16, 0, 0, tzinfo=UTC),  # a new year
        datetime(2100, 2, 28, 16, 0, 0, tzinfo=UTC),  # 2100 is not a leap year
    ]
    got = []
    for instant in instants:
        _mine_at(fresh, int(instant.timestamp()))
        got.append(reports.current_trading_day())
    assert got == [20280228, 20280229, 20290101, 21000301]
    assert got == [_day_code(int(i.timestamp())) for i in instants]


def test_publish_refused_when_day_after_current_trading_day(
    fresh: Consortium, reports: SettlementReportsClient
) -> None:
    today = reports.current_trading_day()
    tomorrow = _day_code(fresh.chain.timestamp() + 86_400)
    with reverts("ReportFutureDay", tradingDay=tomorrow, currentDay=today):
        reports.publish(fresh.exchange, tomorrow, HASH)
    with reverts("ReportFutureDay", tradingDay=21001231, currentDay=today):
        reports.publish(fresh.exchange, 21001231, HASH)
    assert reports.report(tomorrow) is None
    reports.publish(fresh.exchange, today, HASH)
    assert reports.verify(today, HASH)


def test_publish_allowed_at_shanghai_midnight_when_day_begins(
    fresh: Consortium, reports: SettlementReportsClient
) -> None:
    midnight = datetime(2030, 1, 2, tzinfo=SHANGHAI)
    _mine_at(fresh, int((midnight - timedelta(seconds=60)).timestamp()))
    with reverts("ReportFutureDay", tradingDay=20300102, currentDay=20300101):
        reports.publish(fresh.exchange, 20300102, HASH)
    _mine_at(fresh, int(midnight.timestamp()))
    reports.publish(fresh.exchange, 20300102, HASH)
    assert reports.verify(20300102, HASH)


# ---------------------------------------------------------------------- governed corrections (item 16)


def _correct(c: Consortium, reports: SettlementReportsClient, report_hash: bytes, day: int = DAY) -> object:
    return reports.correct(c.registry, c.members, day, report_hash, signer=c.exchange)


def test_correct_appends_revision_and_keeps_history_when_governance_executes(
    fresh: Consortium, reports: SettlementReportsClient
) -> None:
    reports.publish(fresh.exchange, DAY, HASH)
    receipt = _correct(fresh, reports, CORRECTED)
    event = reports.contract.events.ReportCorrected().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert (event["tradingDay"], event["revision"], event["signer"]) == (DAY, 1, fresh.exchange.address)
    assert (bytes(event["previousHash"]), bytes(event["reportHash"])) == (HASH, CORRECTED)
    current = reports.report(DAY)
    assert current is not None
    assert (current.report_hash, current.revision, current.publisher) == (
        CORRECTED,
        1,
        fresh.registry.address,
    )
    assert reports.recover_signer(current) == fresh.exchange.address
    history = reports.revisions(DAY)
    assert [(r.revision, r.report_hash) for r in history] == [(0, HASH), (1, CORRECTED)]
    assert history[0].publisher == fresh.exchange.address
    assert reports.verify(DAY, CORRECTED) and not reports.verify(DAY, HASH)
    assert reports.contract.functions.lastTradingDay().call() == DAY
    again = hashlib.sha256(b"second correction").digest()
    receipt = _correct(fresh, reports, again)
    event = reports.contract.events.ReportCorrected().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert (event["revision"], bytes(event["previousHash"])) == (2, CORRECTED)
    assert [r.report_hash for r in reports.revisions(DAY)] == [HASH, CORRECTED, again]


def test_publish_refused_when_day_corrected_naming_current_hash(
    fresh: Consortium, reports: SettlementReportsClient
) -> None:
    reports.publish(fresh.exchange, DAY, HASH)
    _correct(fresh, reports, CORRECTED)
    with reverts("ReportAlreadyPublished", tradingDay=DAY, existingHash=CORRECTED):
        reports.publish(fresh.exchange, DAY, HASH)


@pytest.mark.parametrize("who", ["exchange", "regulator", "industry_body", "auditor", "outsider"])
def test_correct_refused_when_caller_not_governance(
    fresh: Consortium, reports: SettlementReportsClient, who: str
) -> None:
    reports.publish(fresh.exchange, DAY, HASH)
    caller = {**_callers(fresh), "exchange": fresh.exchange}[who]
    signature = reports.sign(fresh.exchange, DAY, CORRECTED)
    with reverts("OnlyGovernance", caller=caller.address):
        fresh.chain.transact(reports.contract.functions.correct(DAY, CORRECTED, signature), caller)
    assert reports.revision_count(DAY) == 1


def test_correct_refused_when_day_not_published(fresh: Consortium, reports: SettlementReportsClient) -> None:
    with reverts("ReportNotPublished", tradingDay=DAY):
        _correct(fresh, reports, CORRECTED)


def test_correct_refused_when_hash_unchanged_or_zero(
    fresh: Consortium, reports: SettlementReportsClient
) -> None:
    reports.publish(fresh.exchange, DAY, HASH)
    with reverts("ReportUnchanged", tradingDay=DAY, reportHash=HASH):
        _correct(fresh, reports, HASH)
    with reverts("ReportZeroHash", tradingDay=DAY):
        _correct(fresh, reports, bytes(32))
    assert reports.revision_count(DAY) == 1


def test_correct_refused_when_signer_not_exchange(
    fresh: Consortium, reports: SettlementReportsClient
) -> None:
    reports.publish(fresh.exchange, DAY, HASH)
    with reverts("ReportSignerNotExchange", tradingDay=DAY, signer=fresh.regulator.address):
        reports.correct(fresh.registry, fresh.members, DAY, CORRECTED, signer=fresh.regulator)
    assert reports.revision_count(DAY) == 1


def test_report_revision_refused_when_index_unknown(
    fresh: Consortium, reports: SettlementReportsClient
) -> None:
    reports.publish(fresh.exchange, DAY, HASH)
    with reverts("ReportRevisionUnknown", tradingDay=DAY, revision=1):
        reports.revision(DAY, 1)
    with pytest.raises(ContractRevertError):
        reports.revision(DAY + 1, 0)
    assert reports.revisions(DAY + 1) == []
