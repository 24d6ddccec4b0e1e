"""GET /alarms, GET /alarms/markers and POST /alarms/{id}/acknowledge over field alarms raised by the
real rules from HJ 212 frames and relayed by the scheduler into the read model, on SQLite and
PostgreSQL: the regulator reads and filters everyone's, an enterprise its own; the map's markers
carry the device's highest open severity and the enterprise's location; the regulator
acknowledges once; others are refused by name."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.config import ApiSettings
from api.context import AppContext
from api.main import create_app
from chain.onboarding import register_enterprises
from oracle.field import FieldStore
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine, scratch_database
from scheduler.alarms import AlarmStore
from scheduler.field import FieldAlarmRelay
from tests.api.conftest import DOMAIN, UNTHROTTLED, sign_in
from tests.conftest import Consortium
from tests.utils.chain import profile
from tests.utils.compliance import ENTERPRISES
from tests.utils.field_alarms import raise_site_alarms

E0, E1 = ENTERPRISES[:2]
MN = "MN33100000101"


@dataclass
class AlarmsApi:
    client: TestClient
    c: Consortium
    headers: dict[str, dict[str, str]]

    def get(self, who: Any, path: str, **params: Any) -> Any:
        key = who.address
        if key not in self.headers:
            self.headers[key] = {"Authorization": f"Bearer {sign_in(self.client, who)}"}
        return self.client.get(path, params=params, headers=self.headers[key])

    def post(self, who: Any, path: str, body: Any = None) -> Any:
        self.get(who, "/health")  # signs in once
        return self.client.post(path, json=body, headers=self.headers[who.address])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(
    request: pytest.FixtureRequest, consortium: Consortium, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AlarmsApi]:
    directory = Path(tmp_path_factory.mktemp("api-alarms"))
    snapshot = consortium.snapshot()
    with _database(request, directory) as url:
        register_enterprises(
            consortium.registry, consortium.members, [(E0.address, profile(950)), (E1.address, profile(951))]
        )
        engine = make_engine(url)
        upgrade(engine)
        Indexer(consortium.chain, consortium.manifest, engine).catch_up()
        raise_site_alarms(directory / "field.db", E0.address, MN)
        with AlarmStore(f"sqlite:///{directory / 'alarms.db'}") as store:
            FieldAlarmRelay(store, ["log"], [FieldStore(directory / "field.db")], engine=engine).run(
                now=1_800_000_000
            )
        settings = ApiSettings(database_url=url, api_domain=DOMAIN, api_role_cache_seconds=0, **UNTHROTTLED)  # type: ignore[arg-type]
        ctx = AppContext(settings, consortium.chain, consortium.manifest, engine)
        try:
            with TestClient(
                create_app(ctx, migrate=False, indexer=False), base_url=f"http://{DOMAIN}"
            ) as client:
                yield AlarmsApi(client, consortium, {})
        finally:
            engine.dispose()
            consortium.revert(snapshot)


class _database:
    """A SQLite file or a scratch PostgreSQL database, by the fixture's parameter."""

    def __init__(self, request: pytest.FixtureRequest, directory: Path) -> None:
        self._request, self._directory = request, directory
        self._scratch: Any = None

    def __enter__(self) -> str:
        if self._request.param == "sqlite":
            return f"sqlite:///{self._directory / 'read.db'}"
        self._scratch = scratch_database(self._request.getfixturevalue("postgres_url"))
        return str(self._scratch.__enter__())

    def __exit__(self, *exc: object) -> None:
        if self._scratch is not None:
            self._scratch.__exit__(*exc)


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def test_alarms_list_every_kind_with_review_marks_for_the_regulator(api: AlarmsApi) -> None:
    page = _ok(api.get(api.c.regulator, "/alarms"))
    kinds = {a["kind"] for a in page["items"]}
    assert page["total"] == 5 and kinds == {
        "quota",
        "over_standard",
        "facility_stopped",
        "instrument_maintenance",
        "parameter_tampering",
    }
    by_kind = {a["kind"]: a for a in page["items"]}
    assert (
        by_kind["over_standard"]["data"]["average"] == "72.500" and by_kind["over_standard"]["review"] is None
    )
    assert by_kind["facility_stopped"]["review"]["reason"] == "facility_stopped"
    assert by_kind["instrument_maintenance"]["review"]["pollutant"] == "w01018"
    assert {a["enterprise"] for a in page["items"]} == {E0.address} and {a["mn"] for a in page["items"]} == {
        MN
    }
    times = [a["at"] for a in page["items"]]
    assert times == sorted(times, reverse=True)


def test_alarms_filters_by_kind_severity_device_and_time(api: AlarmsApi) -> None:
    r = api.c.regulator
    assert _ok(api.get(r, "/alarms", kind=["quota", "over_standard"]))["total"] == 2
    critical = _ok(api.get(r, "/alarms", severity=3))["items"]
    assert {a["kind"] for a in critical} == {"facility_stopped", "parameter_tampering"}
    assert _ok(api.get(r, "/alarms", mn="MNother"))["total"] == 0
    assert api.get(r, "/alarms", mn="MN-other").status_code == 422
    assert _ok(api.get(r, "/alarms", enterprise=E1.address))["total"] == 0
    assert _ok(api.get(r, "/alarms", since=4_000_000_000))["total"] == 0
    assert api.get(r, "/alarms", since=2**63).status_code == 422
    assert api.get(r, "/alarms", kind="lost").status_code == 422
    assert api.get(r, "/alarms", since=10, until=5).status_code == 400
    assert api.get(r, "/alarms", offset=50).status_code == 400


def test_alarms_enterprise_reads_only_its_own(api: AlarmsApi) -> None:
    assert _ok(api.get(E0, "/alarms"))["total"] == 5
    assert _ok(api.get(E1, "/alarms"))["total"] == 0
    refused = api.get(E1, "/alarms", enterprise=E0.address)
    assert refused.status_code == 403 and refused.json()["error"] == "ForbiddenError"
    assert api.get(api.c.outsider, "/alarms").status_code == 403
    assert api.client.get("/alarms").status_code == 401


def test_alarms_markers_carry_highest_open_severity_and_location(api: AlarmsApi) -> None:
    (marker,) = _ok(api.get(api.c.regulator, "/alarms/markers"))
    assert (marker["enterprise"], marker["mn"], marker["severity"], marker["open"]) == (E0.address, MN, 3, 5)
    assert marker["name"] == "Taizhou Power Plant No. 950"
    assert marker["longitude"] == pytest.approx(121.42095) and marker["latitude"] == pytest.approx(28.65695)
    assert marker["kinds"]["over_standard"] == 1
    assert api.get(E0, "/alarms/markers").status_code == 403


def test_alarms_acknowledged_once_by_the_regulator(api: AlarmsApi) -> None:
    items = _ok(api.get(api.c.regulator, "/alarms", severity=3))["items"]
    refused = api.post(E0, f"/alarms/{items[0]['id']}/acknowledge")
    assert refused.status_code == 403
    for alarm in items:
        done = _ok(
            api.post(api.c.regulator, f"/alarms/{alarm['id']}/acknowledge", {"note": "called the site"})
        )
        assert done["acknowledged_by"] == api.c.regulator.address and done["note"] == "called the site"
    again = api.post(api.c.regulator, f"/alarms/{items[0]['id']}/acknowledge")
    assert again.status_code == 409 and again.json()["error"] == "ConflictError"
    assert api.post(api.c.regulator, "/alarms/999999/acknowledge").status_code == 404
    assert _ok(api.get(api.c.regulator, "/alarms", acknowledged=True))["total"] == 2
    (marker,) = _ok(api.get(api.c.regulator, "/alarms/markers"))
    assert (marker["severity"], marker["open"], marker["total"]) == (2, 3, 5)
