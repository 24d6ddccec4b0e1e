"""Account applications through the API on a real chain, on SQLite and PostgreSQL: an unregistered
wallet signs the API's EIP-712 message, is asked for more information, answers, is accepted by
the regulator (whose wallet signs the propose transaction the API built), and follows its
application to the executed proposal; then changes its profile the same way. Refused by name,
nothing stored or changed: a bad check character, a duplicate code (registered, or applied for),
a change by someone else, a review by a non-member, a signature of another wallet, a refusal
without a reason."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api import accounts as acc
from api.accounts import ApplicationReviewerError
from api.config import ApiSettings
from api.context import AppContext
from api.deps import Principal
from api.main import create_app
from chain.accounts import dev_account
from domain.codes import credit_code_check_char
from readmodel import models as m
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine, scratch_database
from tests.api.conftest import DOMAIN, UNTHROTTLED, sign_in
from tests.conftest import Consortium

APPLICANT = dev_account(30)
OTHER = dev_account(31)
THIRD = dev_account(32)


def code(body: str) -> str:
    return body + credit_code_check_char(body)


CODE_A = code("91370100MA3C8WWK6")
CODE_B = code("91370200MA3C8WWK7")


@dataclass
class World:
    c: Consortium
    ctx: AppContext
    client: TestClient
    indexer: Indexer
    sessions: dict[str, dict[str, str]]

    def as_(self, who: LocalAccount) -> dict[str, str]:
        if who.address not in self.sessions:
            self.sessions[who.address] = {"Authorization": f"Bearer {sign_in(self.client, who)}"}
        return self.sessions[who.address]

    def post(self, who: LocalAccount, path: str, body: dict[str, Any]) -> httpx.Response:
        response: httpx.Response = self.client.post(path, json=body, headers=self.as_(who))
        return response

    def get(self, who: LocalAccount, path: str, **params: Any) -> httpx.Response:
        response: httpx.Response = self.client.get(path, params=params, headers=self.as_(who))
        return response

    def count(self) -> int:
        with self.ctx.sessions() as db:
            return int(db.execute(select(func.count()).select_from(m.AccountApplication)).scalar_one())


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, consortium: Consortium, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    snapshot = consortium.snapshot()
    tmp = Path(tmp_path_factory.mktemp("accounts"))
    with (
        scratch_database(request.getfixturevalue("postgres_url"))
        if request.param == "postgresql"
        else nullcontext(f"sqlite:///{tmp / f'read-{time.monotonic_ns()}.db'}") as url
    ):
        engine = make_engine(url)
        upgrade(engine)
        settings = ApiSettings(database_url=url, api_domain=DOMAIN, api_role_cache_seconds=0,
                               **UNTHROTTLED)  # type: ignore[arg-type]  # fmt: skip
        ctx = AppContext(settings, consortium.chain, consortium.manifest, engine)
        indexer = Indexer(consortium.chain, consortium.manifest, engine)
        indexer.catch_up()
        client = TestClient(create_app(ctx, migrate=False, indexer=False), base_url=f"http://{DOMAIN}")
        try:
            with client:
                yield World(consortium, ctx, client, indexer, {})
        finally:
            engine.dispose()
            consortium.revert(snapshot)


def body(
    kind: str = "register", credit_code: str = CODE_A, name: str = "Jinan Clean Power Co."
) -> dict[str, Any]:
    return {
        "kind": kind, "credit_code": credit_code, "name": name, "region_code": 370102,
        "industry_code": "D4411",
        "latitude_e6": 36_651_000, "longitude_e6": 117_120_000,
        "contacts": [{"name": "Li Wei", "phone": "+86 531 0000 0000", "email": "li.wei@example.cn"}],
        "documents": ["0x" + "ab" * 32], "issued_at": 1_796_083_200,
    }  # fmt: skip


def signed(
    w: World, who: LocalAccount, fields: dict[str, Any], signer: LocalAccount | None = None
) -> dict[str, Any]:
    """``fields`` with the signature of the API's typed data by ``signer`` (default: ``who``)."""
    response = w.post(who, "/accounts/applications/typed-data", fields)
    assert response.status_code == 200, response.text
    typed = response.json()["typed_data"]
    message = encode_typed_data(full_message=typed)
    signature = Account.sign_message(message, (signer or who).key).signature
    return fields | {"signature": "0x" + bytes(signature).hex()}


def refused(response: httpx.Response, status: int, error: str, *words: str) -> None:
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["error"] == error, answer
    for word in words:
        assert word in answer["message"], answer


def relay(w: World, who: LocalAccount, propose: dict[str, Any]) -> dict[str, Any]:
    unsigned = {k: v for k, v in propose["tx"].items() if k != "from"}
    raw = "0x" + bytes(who.sign_transaction(unsigned).raw_transaction).hex()
    response = w.post(who, "/tx/relay", {"intent_id": propose["intent_id"], "raw_transaction": raw})
    assert response.status_code == 200, response.text
    outcome: dict[str, Any] = response.json()
    assert outcome["status"] == "success", outcome
    return outcome


def test_application_registers_the_enterprise_when_accepted_and_the_proposal_executes(world: World) -> None:
    w, c = world, world.c
    assert c.registry.status_of(APPLICANT.address) == 0  # no role: the applicant's page still works
    created = w.post(APPLICANT, "/accounts/applications", signed(w, APPLICANT, body()))
    assert created.status_code == 201, created.text
    app = created.json()
    assert app["status"] == "submitted" and app["account"] == APPLICANT.address
    queue = w.get(c.exchange, "/accounts/applications", status="submitted").json()
    assert [a["application_id"] for a in queue["items"]] == [app["application_id"]]
    path = f"/accounts/applications/{app['application_id']}"

    asked = w.post(
        c.exchange, path + "/review", {"decision": "request_info", "reason": "business licence scan"}
    )
    assert asked.status_code == 200, asked.text
    assert asked.json()["application"]["status"] == "info_requested" and asked.json()["propose"] is None
    again = w.post(
        APPLICANT, path + "/resubmit", signed(w, APPLICANT, body(name="Jinan Clean Power Co., Ltd."))
    )
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "submitted" and again.json()["submissions"] == 2

    accepted = w.post(c.regulator, path + "/review", {"decision": "accept"}).json()
    assert accepted["application"]["status"] == "accepted"
    assert accepted["propose"]["tx"]["from"] == c.regulator.address
    outcome = relay(w, c.regulator, accepted["propose"])
    proposal_id = next(e["args"]["proposalId"] for e in outcome["events"] if e["name"] == "ProposalCreated")
    w.indexer.catch_up()
    seen = w.get(APPLICANT, path).json()
    assert (seen["status"], seen["proposal_id"], seen["approvals"]) == ("proposed", proposal_id, 1)
    assert [h["action"] for h in seen["history"]] == ["submitted", "request_info", "resubmitted", "accept"]

    c.registry.approve(c.exchange, proposal_id)
    c.registry.execute(c.exchange, proposal_id)
    w.indexer.catch_up()
    assert w.get(APPLICANT, path).json()["status"] == "executed"
    profile = c.registry.enterprise(APPLICANT.address).profile
    assert (profile.credit_code, profile.name) == (CODE_A, "Jinan Clean Power Co., Ltd.")
    assert c.registry.has_role("ENTERPRISE", APPLICANT.address)


def test_change_request_updates_the_profile_through_update_enterprise(world: World) -> None:
    w, c = world, world.c
    created = w.post(
        APPLICANT, "/accounts/applications", signed(w, APPLICANT, body("change", name="Jinan Power"))
    )
    assert created.status_code == 201, created.text
    path = f"/accounts/applications/{created.json()['application_id']}"
    accepted = w.post(c.exchange, path + "/review", {"decision": "accept"}).json()
    assert accepted["propose"]["tx"]["from"] == c.exchange.address
    outcome = relay(w, c.exchange, accepted["propose"])
    proposal_id = next(e["args"]["proposalId"] for e in outcome["events"] if e["name"] == "ProposalCreated")
    assert "updateEnterprise" in c.registry.proposal(proposal_id).call
    c.registry.approve(c.regulator, proposal_id)
    c.registry.execute(c.regulator, proposal_id)
    w.indexer.catch_up()
    assert w.get(APPLICANT, path).json()["status"] == "executed"
    assert c.registry.enterprise(APPLICANT.address).profile.name == "Jinan Power"


def test_application_refused_for_a_bad_check_character(world: World) -> None:
    before = world.count()
    bad = CODE_B[:17] + ("0" if CODE_B[17] != "0" else "1")
    response = world.post(OTHER, "/accounts/applications/typed-data", body(credit_code=bad))
    refused(response, 400, "ApplicationCreditCodeError", f"expected {CODE_B[17]!r}")
    good = signed(world, OTHER, body(credit_code=CODE_B))
    refused(world.post(OTHER, "/accounts/applications", good | {"credit_code": bad}), 400,
            "ApplicationCreditCodeError", "check character")  # fmt: skip
    assert world.count() == before


def test_application_refused_for_a_duplicate_code(world: World) -> None:
    before = world.count()
    registered = world.post(OTHER, "/accounts/applications", signed(world, OTHER, body(credit_code=CODE_A)))
    refused(registered, 409, "ApplicationDuplicateCodeError", "already registered")
    first = world.post(OTHER, "/accounts/applications", signed(world, OTHER, body(credit_code=CODE_B)))
    assert first.status_code == 201, first.text
    second = world.post(THIRD, "/accounts/applications", signed(world, THIRD, body(credit_code=CODE_B)))
    refused(second, 409, "ApplicationDuplicateCodeError", "already applied for", OTHER.address)
    assert world.count() == before + 1


def test_change_request_refused_from_another_account(world: World) -> None:
    before = world.count()
    e0 = world.c.members[0]  # a participant, but not the enterprise of CODE_A
    for who in (THIRD, e0):
        response = world.post(
            who, "/accounts/applications", signed(world, who, body("change", name="Taken Over"))
        )
        refused(response, 403, "ApplicationNotOwnAccountError", APPLICANT.address)
    assert world.count() == before
    assert world.c.registry.enterprise(APPLICANT.address).profile.name == "Jinan Power"


def test_review_refused_for_a_non_member(world: World) -> None:
    queue = world.get(world.c.exchange, "/accounts/applications", status="submitted").json()["items"]
    pending = next(a for a in queue if a["credit_code"] == CODE_B)
    path = f"/accounts/applications/{pending['application_id']}/review"
    # strangers without a role, the applicant (an enterprise now), an auditor
    for who in (OTHER, THIRD, APPLICANT, world.c.auditor):
        refused(world.post(who, path, {"decision": "accept"}), 403, "ApplicationReviewerError")
    assert (
        world.get(OTHER, f"/accounts/applications/{pending['application_id']}").json()["status"]
        == "submitted"
    )
    refused(world.get(THIRD, f"/accounts/applications/{pending['application_id']}"), 403, "ForbiddenError")
    refused(world.post(world.c.exchange, path, {"decision": "refuse"}), 400, "ApplicationReasonError")
    done = world.post(world.c.exchange, path, {"decision": "refuse", "reason": "licence expired"}).json()
    assert (done["application"]["status"], done["application"]["reason"]) == ("refused", "licence expired")
    refused(world.post(world.c.regulator, path, {"decision": "accept"}), 400, "ApplicationStateError")


def test_application_refused_when_signed_by_another_wallet(world: World) -> None:
    before = world.count()
    forged = signed(world, THIRD, body(credit_code=CODE_B), signer=OTHER)
    refused(
        world.post(THIRD, "/accounts/applications", forged), 403, "ApplicationSignatureError", THIRD.address
    )
    assert world.count() == before
    assert world.get(THIRD, "/accounts/applications").json()["total"] == 0


def test_registration_refused_for_an_account_already_registered(world: World) -> None:
    before = world.count()
    code_c = code("91370300MA3C8WWK8")
    response = world.post(
        APPLICANT, "/accounts/applications", signed(world, APPLICANT, body(credit_code=code_c))
    )
    refused(response, 409, "ApplicationAlreadyRegisteredError", APPLICANT.address)
    assert world.count() == before


def test_review_refused_for_a_suspended_exchange(world: World) -> None:
    queue = world.get(world.c.exchange, "/accounts/applications").json()["items"]
    suspended = Principal(world.c.exchange.address, frozenset({"EXCHANGE"}), True, "")
    with world.ctx.sessions() as db, pytest.raises(ApplicationReviewerError, match="only an active exchange"):
        acc.review(
            db, registry=world.ctx.registry, calls=world.ctx.calls, reviewer=suspended,
            application_id=queue[0]["application_id"], decision="accept", reason="", lifetime_s=60,
        )  # fmt: skip
