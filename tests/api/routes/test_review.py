"""Review of doubtful monitoring data through the API on a real chain: the queue of an enterprise
and month (excluded readings, a sequence gap) for the regulator and the assigned auditor, the
EIP-712 decision built by the API and signed in the reviewer's wallet, recordReview built, signed
and relayed, the decision in the queue, the decisions list, the audit trail and the statistics
(valid totals only; an accepted reading moves out of the excluded ones); refusals by name; the
same answers from a PostgreSQL read model."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from api.config import ApiSettings
from api.context import AppContext
from api.main import create_app
from chain.review import ReviewDecision, sign_review
from domain.review import Action
from oracle.queue import Queue
from oracle.signing.eip712 import ReadingDomain
from oracle.signing.reading import ReadingFields
from readmodel.indexer.readings import import_readings
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from tests.api.conftest import DOMAIN, UNTHROTTLED, ApiWorld, Get, sign_in
from tests.utils.compliance import ENTERPRISES
from tests.utils.readings import signer

E0, E1, E2, _ = ENTERPRISES
START = int(datetime(2027, 1, 10, 8, tzinfo=UTC).timestamp())
MONTH = 202701


@dataclass
class Site:
    queue_path: Path
    leaves: dict[str, str]  # exclusion label -> leaf
    gap_batch: str


def _frame(time: int) -> list[ReadingFields]:
    # kg amounts of COD: valid 1.5, fault-flagged 2.0, outlier 90.0, invalid -1
    return [
        ReadingFields(time, "w01018", 15, 1, "kg", "N"),
        ReadingFields(time, "w01018", 20, 1, "kg", "D"),
        ReadingFields(time, "w01018", 900, 1, "kg", "N"),
        ReadingFields(time, "w21003", -1, 0, "kg", "N"),
    ]


@pytest.fixture(scope="module")
def site(world: ApiWorld, tmp_path_factory: pytest.TempPathFactory) -> Site:
    """A device of E0: one batch of mixed quality, then one after a gap of 6 sequences; anchored,
    indexed and imported."""
    c = world.c
    domain = ReadingDomain(c.chain.chain_id, c.ledger.address)
    device = signer(981, domain=domain)
    c.registry.bind_device(c.regulator, device.address, E0.address, "REVIEWAPI0001", oracle=c.oracle.address)
    path = Path(tmp_path_factory.mktemp("review")) / "queue.db"
    with Queue(path) as queue:
        queue.append([device.sign_frame(_frame(START))], qc=["measured", "measured", "outlier", "invalid"])
        later = signer(981, next_sequence=11, domain=domain)
        queue.append([later.sign_frame(_frame(START + 3600)[:1])], qc=["measured"])
        enterprises = {device.address: E0.address}
        first, second = queue.cut_batches(4, 0, enterprises=enterprises) + queue.cut_batches(
            4, 0, enterprises=enterprises
        )
        for batch in (first, second):
            result = c.ledger.anchor(c.oracle, batch)
            assert result.tx_hash is not None
            queue.mark_anchored(batch.batch_id, result.tx_hash, result.record.anchored_block)
        stored = queue.batch_readings(first.batch_id)
    world.index()
    import_readings(world.ctx.engine, [path])
    labels = {1: "fault", 2: "outlier", 3: "invalid"}
    leaves = {labels[i]: "0x" + stored[i].signed.digest.hex() for i in labels}
    return Site(path, leaves, "0x" + second.batch_id.hex())


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def _refused(response: Any, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    for word in words:
        assert word in response.json()["message"], response.json()


def _post(world: ApiWorld, who: LocalAccount, path: str, body: dict[str, Any]) -> Any:
    return world.client.post(path, json=body, headers=world.sign_in(who))


def test_review_queue_lists_excluded_readings_and_gap_for_reviewers(
    world: ApiWorld, get: Get, site: Site
) -> None:
    queue = _ok(get(world.c.regulator, "/review/queue", enterprise=E0.address, month=MONTH))
    readings = {i["exclusion"]: i for i in queue["items"] if i["kind"] == "reading"}
    assert {k: v["subject"] for k, v in readings.items()} == site.leaves
    assert (readings["fault"]["flag"], readings["outlier"]["value"], readings["invalid"]["value"]) == (
        "D",
        "90.0",
        "-1",
    )
    [gap] = [i for i in queue["items"] if i["kind"] == "gap"]
    assert (gap["subject"], gap["missing"]) == (site.gap_batch, 6)
    assert (queue["open"], queue["decided"]) == (4, 0)
    assert _ok(get(world.c.auditor, "/review/queue", enterprise=E0.address, month=MONTH)) == queue
    assert _ok(get(E0, "/review/queue", enterprise=E0.address, month=MONTH)) == queue  # its own, read-only
    _refused(get(E1, "/review/queue", enterprise=E0.address, month=MONTH), 403)
    _refused(get(world.c.regulator, "/review/queue", enterprise=E0.address, month=202713), 400, "YYYYMM")
    # whose queues each may open: the dashboard offers only these
    assert _ok(get(world.c.regulator, "/review/scope")) == {"all": True, "enterprises": []}
    scope = _ok(get(world.c.auditor, "/review/scope"))
    assert scope["all"] is False and E0.address in scope["enterprises"]
    others = set(scope["enterprises"]) - {world.c.auditor.address}
    assert all(world.c.registry.is_auditor_assigned(world.c.auditor.address, e) for e in others)
    assert _ok(get(E1, "/review/scope")) == {"all": False, "enterprises": [E1.address]}


def test_statistics_count_valid_readings_and_show_excluded(world: ApiWorld, get: Get, site: Site) -> None:
    from sqlalchemy import select

    from readmodel import models as m

    with world.ctx.engine.connect() as conn:
        rows = dict(
            conn.execute(
                select(m.StatRollup.metric, m.StatRollup.value).where(
                    m.StatRollup.enterprise == E0.address,
                    m.StatRollup.grain == "year",
                    m.StatRollup.pollutant == 4,
                    m.StatRollup.metric.in_(("emissions_t", "excluded_t")),
                )
            ).all()
        )
    # COD (w01018, allowance pollutant 4): valid 1.5 + 1.5 kg; excluded 2.0 + 90.0 kg
    assert rows["emissions_t"] == pytest.approx(0.003)
    assert rows["excluded_t"] == pytest.approx(0.092)
    for metric in ("emissions_t", "excluded_t"):
        answer = _ok(get(world.c.regulator, "/stats", metric=metric, pollutant=4, enterprise=E0.address))
        assert sum(r["value"] for r in answer["rows"]) == pytest.approx(rows[metric]), answer


def test_review_decision_signed_in_wallet_is_recorded_and_shown(
    world: ApiWorld, get: Get, site: Site
) -> None:
    c = world.c
    body = {"enterprise": E0.address, "subject": site.leaves["fault"], "pollutant": "w01018", "month": MONTH,
            "action": "accept", "note": "flag D was a test signal"}  # fmt: skip
    typed = _ok(_post(world, c.auditor, "/review/typed-data", body))
    assert typed["typed_data"]["primaryType"] == "ReviewDecision"
    message = typed["typed_data"]["message"]
    decision = ReviewDecision(
        reviewer=c.auditor.address, enterprise=E0.address, subject=bytes.fromhex(site.leaves["fault"][2:]),
        pollutant="w01018", month=MONTH, action=Action.ACCEPT,
        note_hash=bytes.fromhex(message["noteHash"][2:]),
    )  # fmt: skip
    signature = sign_review(c.auditor, c.chain.chain_id, c.ledger.address, decision)  # the wallet's part
    relay = {**typed["relay"], "signature": "0x" + signature.hex()}

    _refused(_post(world, c.regulator, "/tx/review", relay), 403, "signed by")
    built = _ok(_post(world, c.auditor, "/tx/review", relay))
    assert (built["action"]["contract"], built["action"]["function"]) == ("EmissionsLedger", "recordReview")
    tx = {k: v for k, v in built["tx"].items() if k != "from"}
    raw = "0x" + bytes(c.auditor.sign_transaction(tx).raw_transaction).hex()
    relayed = _ok(
        _post(world, c.auditor, "/tx/relay", {"intent_id": built["intent_id"], "raw_transaction": raw})
    )
    assert relayed["status"] == "success", relayed
    world.index()

    digest = typed["digest"]
    assert c.ledger.reviewer_of(digest) == c.auditor.address
    queue = _ok(get(c.regulator, "/review/queue", enterprise=E0.address, month=MONTH))
    [item] = [i for i in queue["items"] if i["subject"] == site.leaves["fault"]]
    assert item["decision"]["decision_id"] == digest
    assert (item["decision"]["action"], item["decision"]["reviewer_role"]) == ("accept", 2)
    assert (queue["open"], queue["decided"]) == (3, 1)
    [listed] = _ok(get(c.regulator, "/review/decisions", enterprise=E0.address))
    assert listed["decision_id"] == digest
    _refused(get(E1, "/review/decisions", enterprise=E0.address), 403)
    trail = _ok(get(c.regulator, "/audit/events", account=E0.address, name="ReviewDecisionRecorded"))
    assert any(e["args"]["id"] == digest for e in trail["items"]), trail


def test_review_refusals_by_name(world: ApiWorld, site: Site) -> None:
    c = world.c
    base = {
        "enterprise": E0.address,
        "subject": site.leaves["outlier"],
        "pollutant": "w01018",
        "month": MONTH,
    }
    _refused(_post(world, E0, "/review/typed-data", {**base, "action": "reject"}), 403, "only the regulator")
    _refused(
        _post(world, c.auditor, "/review/typed-data", {**base, "enterprise": E2.address, "action": "reject"}),
        403,
    )
    _refused(_post(world, c.regulator, "/review/typed-data", {**base, "action": "substitute"}), 400, "method")
    prevhour = {**base, "action": "substitute", "method": "prevhour"}
    _refused(_post(world, c.regulator, "/review/typed-data", prevhour), 400, "no valid reading")
    _refused(
        _post(world, c.regulator, "/review/typed-data", {**base, "action": "reject", "method": "manual"}),
        400, "takes no method",
    )  # fmt: skip
    typed = _ok(
        _post(
            world,
            c.regulator,
            "/review/typed-data",
            {**base, "action": "substitute", "method": "permmax", "value": "3.5"},
        )
    )
    assert (typed["typed_data"]["message"]["value"], typed["relay"]["decimals"]) == ("35", 1)


def _cod_totals(world: ApiWorld) -> dict[str, float]:
    from sqlalchemy import select

    from readmodel import models as m

    with world.ctx.engine.connect() as conn:
        rollups = conn.execute(
            select(m.StatRollup.metric, m.StatRollup.value).where(
                m.StatRollup.enterprise == E0.address,
                m.StatRollup.grain == "year",
                m.StatRollup.pollutant == 4,
                m.StatRollup.metric.in_(("emissions_t", "excluded_t")),
            )
        ).all()
    return {metric: float(value) for metric, value in rollups}


def test_review_queue_shows_the_field_alarm_that_marked_a_reading(
    world: ApiWorld, get: Get, site: Site
) -> None:
    from sqlalchemy import delete
    from sqlalchemy.orm import Session

    from readmodel.alarms import ReviewMarkRow, store_review_mark

    uid = "facility_stopped:REVIEWAPI0001:SB1:1"
    before = _ok(get(world.c.regulator, "/review/queue", enterprise=E0.address, month=MONTH))
    with Session(world.ctx.engine) as db, db.begin():  # the relay's copy of the gateway's mark
        store_review_mark(db, alarm_uid=uid, mn="REVIEWAPI0001", pollutant="", begin=START + 3600,
                          end=START + 3600, reason="facility_stopped")  # fmt: skip
    try:
        queue = _ok(get(world.c.regulator, "/review/queue", enterprise=E0.address, month=MONTH))
        [marked] = [i for i in queue["items"] if i["reason"] is not None]
        assert (marked["reason"], marked["alarm"], marked["exclusion"]) == ("facility_stopped", uid, None)
        assert (marked["time"], marked["value"], marked["decision"]) == (START + 3600, "1.5", None)
        assert queue["open"] == before["open"] + 1
        # the regulator rejects it: it leaves the emissions for the excluded amounts
        totals = _cod_totals(world)
        decision = ReviewDecision(reviewer=world.c.regulator.address, enterprise=E0.address,
                                  subject=bytes.fromhex(marked["subject"][2:]), pollutant="w01018",
                                  month=MONTH, action=Action.REJECT)  # fmt: skip
        signature = sign_review(world.c.regulator, world.c.chain.chain_id, world.c.ledger.address, decision)
        world.c.ledger.record_review(world.c.regulator, decision, signature)
        world.index()
        after = _cod_totals(world)
        assert after["emissions_t"] == pytest.approx(totals["emissions_t"] - 0.0015)
        assert after["excluded_t"] == pytest.approx(totals["excluded_t"] + 0.0015)
        queue = _ok(get(world.c.regulator, "/review/queue", enterprise=E0.address, month=MONTH))
        [marked] = [i for i in queue["items"] if i["reason"] is not None]
        assert marked["decision"]["action"] == "reject"
    finally:
        with Session(world.ctx.engine) as db, db.begin():
            db.execute(delete(ReviewMarkRow).where(ReviewMarkRow.alarm_uid == uid))


# ---------------------------------------------------------------------- the PostgreSQL variant


@pytest.fixture
def twin(world: ApiWorld, site: Site, database_url: str) -> Iterator[TestClient]:
    """The same chain and queue indexed into another read model (SQLite or PostgreSQL)."""
    settings = ApiSettings(database_url=database_url, api_domain=DOMAIN, api_role_cache_seconds=0,
                           **UNTHROTTLED)  # type: ignore[arg-type]  # fmt: skip
    engine = make_engine(database_url)
    upgrade(engine)
    ctx = AppContext(settings, world.c.chain, world.c.manifest, engine)
    Indexer(world.c.chain, world.c.manifest, engine).catch_up()
    import_readings(engine, [site.queue_path])
    with TestClient(create_app(ctx, migrate=False, indexer=False), base_url=f"http://{DOMAIN}") as client:
        yield client
    engine.dispose()


def test_review_answers_equal_on_either_database(world: ApiWorld, get: Get, twin: TestClient) -> None:
    headers = {"Authorization": f"Bearer {sign_in(twin, world.c.regulator)}"}
    world.index()
    for path, params in (
        ("/review/queue", {"enterprise": E0.address, "month": MONTH}),
        ("/review/decisions", {}),
    ):
        answer = _ok(twin.get(path, params=params, headers=headers))
        assert answer == _ok(get(world.c.regulator, path, **params)), path
