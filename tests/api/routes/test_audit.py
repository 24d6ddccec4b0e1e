"""Audit trail routes: an account's, token's or device's ordered history with cursor paging,
the CSV export, who may read which trail, and reading proofs checked against the chain."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from readmodel import models as m
from readmodel.indexer.readings import import_readings
from tests.api.conftest import ApiWorld
from tests.utils.anchoring import Site, bind_site
from tests.utils.compliance import ENTERPRISES, IDS

E0, E1 = ENTERPRISES[0], ENTERPRISES[1]


@pytest.fixture(scope="module")
def site(world: ApiWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """E0's device with two anchored batches, indexed, readings imported."""
    built = bind_site(world.c, E0, tmp_path_factory.mktemp("oracle") / "queue.db")
    first = built.anchor(built.cut())
    built.anchor(built.cut(start=first.period_end + 600))
    world.index()
    import_readings(world.ctx.engine, [built.queue.path or ""])
    yield built
    built.queue.close()


@pytest.fixture(scope="module")
def regulator(world: ApiWorld) -> dict[str, str]:
    return world.sign_in(world.c.regulator)


@pytest.fixture(scope="module")
def e0(world: ApiWorld) -> dict[str, str]:
    return world.sign_in(E0)


@pytest.fixture(scope="module")
def auditor(world: ApiWorld) -> dict[str, str]:
    return world.sign_in(world.c.auditor)


def _events(world: ApiWorld, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = world.client.get("/audit/events", params={"limit": 1000, **params}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next"] is None
    return list(body["items"])


def _key(item: dict[str, Any]) -> tuple[int, int]:
    return item["block_number"], item["log_index"]


def test_audit_events_complete_and_ordered_for_enterprise(
    world: ApiWorld, site: Site, e0: dict[str, str]
) -> None:
    items = _events(world, e0)
    with world.ctx.engine.connect() as conn:
        expected = conn.execute(
            select(m.EventParty.block_number, m.EventParty.log_index)
            .where(m.EventParty.account == E0.address)
            .order_by(m.EventParty.block_time, m.EventParty.block_number, m.EventParty.log_index)
        ).all()
    assert [_key(i) for i in items] == [tuple(r) for r in expected]
    assert [_key(i) for i in items] == sorted({_key(i) for i in items})
    anchors = [i for i in items if i["name"] == "BatchAnchored"]
    assert [a["args"]["batchId"] for a in anchors] == ["0x" + b.batch_id.hex() for b in site.anchored]
    assert {a["tx_hash"] for a in anchors} == {"0x" + (b.tx_hash or b"").hex() for b in site.anchored}
    assert any(i["name"] == "DeviceBound" and i["args"]["device"] == site.device.address for i in items)
    assert {"AllowanceToken", "SettlementToken", "ComplianceManager", "EmissionsLedger"} <= {
        i["contract"] for i in items
    }
    assert all(i["time"].endswith("Z") and i["block_time"] > 0 for i in items)
    assert items == _events(world, e0, account=E0.address.lower())


def test_audit_events_match_filters_when_token_device_or_window_given(
    world: ApiWorld, site: Site, regulator: dict[str, str]
) -> None:
    token = _events(world, regulator, account=E0.address, token_id=IDS[1])
    assert token and all(i["token_id"] == IDS[1] for i in token)
    assert any(i["args"].get("to") == E1.address for i in token)  # E0's transfer to E1
    device = _events(world, regulator, device=site.device.address)
    assert [i["name"] for i in device] == ["DeviceBound", "DeviceOracleSet", "BatchAnchored", "BatchAnchored"]
    anchor = device[2]
    window = _events(world, regulator, from_time=anchor["block_time"], to_time=anchor["block_time"])
    assert anchor in window and all(i["block_time"] == anchor["block_time"] for i in window)
    blocks = _events(world, regulator, from_block=anchor["block_number"], to_block=anchor["block_number"])
    assert anchor in blocks and all(i["block_number"] == anchor["block_number"] for i in blocks)
    kind = _events(world, regulator, contract="EmissionsLedger", name="BatchAnchored")
    assert kind == device[2:]
    assert _events(world, regulator, from_block=10**12) == []


def test_audit_events_cursor_walks_all_rows_without_duplicates(
    world: ApiWorld, regulator: dict[str, str]
) -> None:
    everything = _events(world, regulator)
    walked: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 7} | ({"after": after} if after else {})
        body = world.client.get("/audit/events", params=params, headers=regulator).json()
        walked += body["items"]
        after = body["next"]
        if after is None:
            break
        assert len(body["items"]) == 7
    assert walked == everything and len({_key(i) for i in walked}) == len(walked) > 100


def test_audit_events_csv_matches_json_when_exported(
    world: ApiWorld, site: Site, regulator: dict[str, str]
) -> None:
    response = world.client.get("/audit/events.csv", params={"account": E0.address}, headers=regulator)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    items = _events(world, regulator, account=E0.address)
    assert len(rows) == len(items)
    for row, item in zip(rows, items, strict=True):
        assert (int(row["block_number"]), int(row["log_index"])) == _key(item)
        assert (row["tx_hash"], row["name"], row["time"]) == (item["tx_hash"], item["name"], item["time"])
        assert json.loads(row["args"]) == item["args"]
        assert row["token_id"] == ("" if item["token_id"] is None else str(item["token_id"]))


def test_audit_events_csv_refused_when_export_too_large(
    world: ApiWorld, regulator: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("api.routes.audit.CSV_MAX_ROWS", 5)
    response = world.client.get("/audit/events.csv", headers=regulator)
    assert response.status_code == 400 and "narrow the filters" in response.json()["message"]


def test_audit_events_forbidden_when_enterprise_reads_another(world: ApiWorld, e0: dict[str, str]) -> None:
    response = world.client.get("/audit/events", params={"account": E1.address}, headers=e0)
    assert response.status_code == 403 and E1.address in response.json()["message"]
    assert (
        world.client.get("/audit/events.csv", params={"account": E1.address}, headers=e0).status_code == 403
    )
    own = _events(world, e0, token_id=IDS[1])
    assert own == _events(world, e0, account=E0.address, token_id=IDS[1])


def test_audit_events_scoped_to_assigned_when_auditor(
    world: ApiWorld, site: Site, auditor: dict[str, str], regulator: dict[str, str]
) -> None:
    seen, everything = (
        _events(world, auditor, account=E0.address),
        _events(world, regulator, account=E0.address),
    )
    bound = [i for i in everything if i["name"] == "DeviceBound"]
    assert bound and all(i["args"]["mn"] for i in bound)  # the regulator sees device MNs
    hidden = [i | {"args": i["args"] | {"mn": None}} if i["name"] == "DeviceBound" else i for i in everything]
    assert seen == hidden  # the auditor sees the same trail, MNs hidden (owner, regulator, exchange only)
    unassigned = ENTERPRISES[2].address  # the auditor is assigned to E0 and E1 only
    assert (
        world.client.get("/audit/events", params={"account": unassigned}, headers=auditor).status_code == 403
    )
    assert world.client.get("/audit/events", headers=auditor).status_code == 403


def test_audit_events_everything_when_regulator(
    world: ApiWorld, site: Site, regulator: dict[str, str]
) -> None:
    items = _events(world, regulator)
    with world.ctx.engine.connect() as conn:
        total = len(conn.execute(select(m.Event.id)).all())
    assert len(items) == total
    assert _events(world, regulator, account=E1.address)


@pytest.mark.parametrize(
    "params",
    [
        {"after": "abc"},
        {"after": "999999999:0"},
        {"from_time": 10, "to_time": 9},
        {"from_block": 5, "to_block": 4},
    ],
)
def test_audit_events_bad_request_when_cursor_or_window_invalid(
    world: ApiWorld, regulator: dict[str, str], params: dict[str, Any]
) -> None:
    response = world.client.get("/audit/events", params=params, headers=regulator)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "QueryError"


def test_audit_events_unauthorized_when_not_signed_in(world: ApiWorld) -> None:
    assert world.client.get("/audit/events").status_code == 401


def _proof(world: ApiWorld, headers: dict[str, str], batch_id: str, position: int) -> Any:
    return world.client.get(f"/audit/readings/{batch_id}/{position}", headers=headers)


def test_audit_reading_proof_verifies_on_chain_when_untouched(
    world: ApiWorld, site: Site, e0: dict[str, str]
) -> None:
    batch = site.anchored[1]
    batch_id = "0x" + batch.batch_id.hex()
    response = _proof(world, e0, batch_id, 5)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["verified"] is True and body["error"] is None
    assert body["checks"] == {"root_matches_anchored": True, "leaf_matches_reading": True, "on_chain": True}
    assert body["computed_root"] == body["anchored_root"] == body["batch"]["root"] == "0x" + batch.root.hex()
    stored = site.queue.batch_readings(batch.batch_id)[5]
    assert body["proof"] == ["0x" + p.hex() for p in site.queue.proof(stored.row_id).proof]
    assert body["reading"]["sequence"] == stored.signed.sequence
    assert body["witness"]["signature"] == "0x" + stored.signed.witness.signature.hex()
    assert world.c.ledger.verify_reading(
        batch.batch_id, stored.signed.reading, stored.signed.witness, body["proof"]
    )


def test_audit_reading_proof_reports_false_when_reading_tampered(
    world: ApiWorld, site: Site, regulator: dict[str, str]
) -> None:
    batch_id = "0x" + site.anchored[0].batch_id.hex()
    where = (m.Reading.batch_id == batch_id) & (m.Reading.position == 2)
    with world.ctx.engine.begin() as conn:
        value = conn.execute(select(m.Reading.value).where(where)).scalar_one()
        conn.execute(update(m.Reading).where(where).values(value=str(int(value) + 1)))
    try:
        response = _proof(world, regulator, batch_id, 2)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["verified"] is False
        assert body["checks"] == {
            "root_matches_anchored": True,
            "leaf_matches_reading": False,
            "on_chain": False,
        }
        assert _proof(world, regulator, batch_id, 3).json()["verified"] is True
    finally:
        with world.ctx.engine.begin() as conn:
            conn.execute(update(m.Reading).where(where).values(value=value))


def test_audit_reading_proof_refused_by_name_when_batch_header_or_totals_altered(
    world: ApiWorld, site: Site, regulator: dict[str, str]
) -> None:
    """The endpoint supplies the read model's header and packed totals to the ledger: altered
    totals (here the valid total of the first pollutant, one more) are refused by name."""
    batch_id = "0x" + site.anchored[0].batch_id.hex()
    where = m.Batch.batch_id == batch_id
    with world.ctx.engine.begin() as conn:
        packed = conn.execute(select(m.Batch.totals_packed).where(where)).scalar_one()
        raw = bytearray(bytes.fromhex(packed[2:]))
        raw[6 + 31] ^= 1  # the last byte of the first valid total's amount
        conn.execute(update(m.Batch).where(where).values(totals_packed="0x" + raw.hex()))
    try:
        body = _proof(world, regulator, batch_id, 2).json()
        assert body["verified"] is False
        assert body["error"] == "verifyReading refused the call: LedgerBatchHeaderMismatch"
        assert body["checks"]["root_matches_anchored"] is False
    finally:
        with world.ctx.engine.begin() as conn:
            conn.execute(update(m.Batch).where(where).values(totals_packed=packed))
    assert _proof(world, regulator, batch_id, 2).json()["verified"] is True


def test_audit_reading_proof_not_found_when_batch_or_position_unknown(
    world: ApiWorld, site: Site, regulator: dict[str, str]
) -> None:
    assert _proof(world, regulator, "0x" + "77" * 32, 0).status_code == 404
    assert _proof(world, regulator, "0x" + site.anchored[0].batch_id.hex(), 8).status_code == 404
    assert _proof(world, regulator, "0x1234", 0).status_code == 422


def test_audit_reading_proof_scoped_when_enterprise_or_auditor(
    world: ApiWorld, site: Site, auditor: dict[str, str]
) -> None:
    batch_id = "0x" + site.anchored[0].batch_id.hex()
    assert _proof(world, world.sign_in(E1), batch_id, 0).status_code == 403
    assert _proof(world, auditor, batch_id, 0).json()["verified"] is True
