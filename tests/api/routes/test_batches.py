"""Batch routes: anchored batches listed and filtered, totals decoded, readings paged, scoping."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from readmodel.indexer.readings import import_readings
from tests.api.conftest import ApiWorld
from tests.utils.anchoring import Site, bind_site
from tests.utils.compliance import ENTERPRISES

E0, E1 = ENTERPRISES[0], ENTERPRISES[1]


@pytest.fixture(scope="module")
def site(world: ApiWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """E0's device with two anchored batches, indexed, readings imported."""
    built = bind_site(world.c, E0, tmp_path_factory.mktemp("oracle") / "queue.db")
    first = built.anchor(built.cut())
    built.anchor(built.cut(frames=3, size=3, start=first.period_end + 3600))
    world.index()
    import_readings(world.ctx.engine, [built.queue.path or ""])
    yield built
    built.queue.close()


@pytest.fixture(scope="module")
def regulator(world: ApiWorld) -> dict[str, str]:
    return world.sign_in(world.c.regulator)


def _list(world: ApiWorld, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = world.client.get("/batches", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _ids(site: Site) -> list[str]:
    return ["0x" + b.batch_id.hex() for b in site.anchored]


def test_batches_list_filtered_when_enterprise_device_or_window_given(
    world: ApiWorld, site: Site, regulator: dict[str, str]
) -> None:
    everything = _list(world, regulator)
    assert [b["batch_id"] for b in everything["items"]] == _ids(site) and everything["total"] == 2
    assert [b["batch_id"] for b in _list(world, regulator, enterprise=E0.address)["items"]] == _ids(site)
    assert _list(world, regulator, enterprise=E1.address)["total"] == 0
    assert _list(world, regulator, device=site.device.address)["total"] == 2
    second = site.anchored[1]
    late = _list(world, regulator, from_time=second.period_start)
    assert [b["batch_id"] for b in late["items"]] == _ids(site)[1:]
    early = _list(world, regulator, to_time=site.anchored[0].period_end)
    assert [b["batch_id"] for b in early["items"]] == _ids(site)[:1]
    page = _list(world, regulator, limit=1, offset=1)
    assert [b["batch_id"] for b in page["items"]] == _ids(site)[1:] and page["total"] == 2


def test_batches_list_bad_request_when_window_reversed_or_offset_past_end(
    world: ApiWorld, site: Site, regulator: dict[str, str]
) -> None:
    response = world.client.get("/batches", params={"from_time": 10, "to_time": 9}, headers=regulator)
    assert response.status_code == 400
    assert world.client.get("/batches", params={"offset": 5}, headers=regulator).status_code == 400


def test_batches_list_scoped_when_enterprise_or_auditor(world: ApiWorld, site: Site) -> None:
    assert [b["batch_id"] for b in _list(world, world.sign_in(E0))["items"]] == _ids(site)
    e1 = world.sign_in(E1)
    assert _list(world, e1)["total"] == 0
    assert world.client.get("/batches", params={"enterprise": E0.address}, headers=e1).status_code == 403
    auditor = world.sign_in(world.c.auditor)
    assert [b["batch_id"] for b in _list(world, auditor)["items"]] == _ids(site)
    unassigned = ENTERPRISES[2].address  # the auditor is assigned to E0 and E1 only
    assert world.client.get("/batches", params={"enterprise": unassigned}, headers=auditor).status_code == 403


def test_batch_detail_decodes_totals_when_anchored(
    world: ApiWorld, site: Site, regulator: dict[str, str]
) -> None:
    batch = site.anchored[0]
    response = world.client.get(f"/batches/0x{batch.batch_id.hex()}", headers=regulator)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (
        body["root"] == "0x" + batch.root.hex() and body["count"] == batch.count == body["readings_imported"]
    )
    assert body["enterprise"] == E0.address and body["device"] == site.device.address
    expected = [(t.pollutant, t.unit, format(t.amount, "f"), str(t.value), t.decimals) for t in batch.totals]
    got = [(t["pollutant"], t["unit"], t["total"], t["raw_total"], t["decimals"]) for t in body["totals"]]
    assert sorted(got) == sorted(expected)


def test_batch_detail_not_found_or_forbidden_when_unknown_or_foreign(world: ApiWorld, site: Site) -> None:
    regulator = world.sign_in(world.c.regulator)
    assert world.client.get("/batches/0x" + "77" * 32, headers=regulator).status_code == 404
    assert world.client.get("/batches/0x" + "77" * 32 + "/readings", headers=regulator).status_code == 404
    own = f"/batches/0x{site.anchored[0].batch_id.hex()}"
    assert world.client.get(own, headers=world.sign_in(E1)).status_code == 403
    assert world.client.get(own + "/readings", headers=world.sign_in(E1)).status_code == 403


def test_batch_readings_paged_in_tree_order(world: ApiWorld, site: Site, regulator: dict[str, str]) -> None:
    batch = site.anchored[1]
    url = f"/batches/0x{batch.batch_id.hex()}/readings"
    first = world.client.get(url, params={"limit": 5}, headers=regulator).json()
    rest = world.client.get(url, params={"limit": 5, "offset": 5}, headers=regulator).json()
    items = first["items"] + rest["items"]
    assert first["total"] == batch.count == len(items) == 9
    stored = site.queue.batch_readings(batch.batch_id)
    assert [r["position"] for r in items] == list(range(9))
    assert [r["sequence"] for r in items] == [s.signed.sequence for s in stored]
    assert [r["amount"] for r in items] == [format(s.signed.reading.amount, "f") for s in stored]
    assert [r["leaf"] for r in items] == ["0x" + s.signed.digest.hex() for s in stored]
