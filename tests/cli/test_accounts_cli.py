"""``ets accounts`` and the demo's accounts step against the real API app (in process) on a real
chain: an unregistered demo wallet applies from a JSON file, the regulator accepts (its key signs
the proposal), the exchange approves and executes, ``status`` shows it executed; a bad check
character and a review by a non-member are printed by name with a non-zero exit; the demo step
registers its new enterprise once (a re-run sends nothing)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.config import ApiSettings
from api.context import AppContext
from api.main import create_app
from chain.accounts import demo_account
from demo.accounts import NEW_CODE, run_accounts_demo
from domain.codes import credit_code_check_char
from ets.cli.main import app
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from tests.api.conftest import DOMAIN, UNTHROTTLED
from tests.conftest import Consortium

Served = tuple[TestClient, Indexer]
Run = Callable[..., tuple[int, str]]
CODE = "91440300MA5F3ABC1" + credit_code_check_char("91440300MA5F3ABC1")
APPLICANT = "enterprise-12"


@pytest.fixture(scope="module")
def served(
    consortium: Consortium, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, Indexer]]:
    snapshot = consortium.snapshot()
    url = f"sqlite:///{tmp_path_factory.mktemp('accounts-cli') / f'read-{time.monotonic_ns()}.db'}"
    engine = make_engine(url)
    upgrade(engine)
    settings = ApiSettings(database_url=url, api_domain=DOMAIN, api_role_cache_seconds=0,
                           reports_dir=tmp_path_factory.mktemp("no-reports"), **UNTHROTTLED)  # type: ignore[arg-type]  # fmt: skip
    indexer = Indexer(consortium.chain, consortium.manifest, engine)
    indexer.catch_up()
    ctx = AppContext(settings, consortium.chain, consortium.manifest, engine)
    client = TestClient(create_app(ctx, migrate=False, indexer=False), base_url=f"http://{DOMAIN}")
    try:
        with client:
            yield client, indexer
    finally:
        engine.dispose()
        consortium.revert(snapshot)


@pytest.fixture
def ets(served: Served, monkeypatch: pytest.MonkeyPatch, consortium: Consortium) -> Run:
    client, _ = served
    monkeypatch.setenv("ETS_DEMO", "1")
    monkeypatch.setenv("ETS_RPC_URL", consortium.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    # the CLI's HTTP client is the in-process API's
    monkeypatch.setattr(httpx, "Client", lambda **_: nullcontext(client))
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.output

    return run


def test_cli_applies_reviews_and_follows_the_application(
    ets: Run, served: Served, consortium: Consortium, tmp_path: Path
) -> None:
    assert consortium.registry.status_of(demo_account(APPLICANT).address) == 0
    fields = {
        "credit_code": CODE, "name": "Shenzhen Bay Power Co.", "region_code": 440305,
        "industry_code": "D4411",
        "latitude_e6": 22_520_000, "longitude_e6": 113_930_000,
        "contacts": [{"name": "Zhou Min", "phone": "+86 755 0000 0000", "email": "zhou.min@example.cn"}],
        "documents": [],
    }  # fmt: skip
    file = tmp_path / "application.json"
    file.write_text(json.dumps(fields))
    code, out = ets("accounts", "apply", str(file), "--as", APPLICANT)
    assert code == 0, out
    application_id = out.split()[0]
    assert "submitted" in out

    code, out = ets("accounts", "review", application_id, "--decision", "accept", "--as", "enterprise-1")
    assert code == 1 and "ApplicationReviewerError" in out
    code, out = ets("accounts", "review", application_id, "--decision", "accept", "--as", "regulator")
    assert code == 0 and "proposal" in out and "success" in out, out
    proposal_id = consortium.registry.proposals()[-1].id
    consortium.registry.approve(consortium.exchange, proposal_id)
    consortium.registry.execute(consortium.exchange, proposal_id)
    served[1].catch_up()
    code, out = ets("accounts", "status", application_id, "--as", APPLICANT)
    assert code == 0 and "executed" in out and "accept by" in out, out
    assert consortium.registry.enterprise_by_credit_code(CODE) == demo_account(APPLICANT).address

    file.write_text(json.dumps(fields | {"credit_code": CODE[:17] + ("0" if CODE[17] != "0" else "1")}))
    code, out = ets("accounts", "apply", str(file), "--as", "enterprise-11")
    assert code == 1 and "ApplicationCreditCodeError" in out, out


def test_demo_step_registers_its_new_enterprise_once(served: Served, consortium: Consortium) -> None:
    client, indexer = served
    first = run_accounts_demo(client, consortium.registry, indexer.catch_up)
    assert first.proposal_id is not None and first.applicant is not None
    assert consortium.registry.enterprise_by_credit_code(NEW_CODE) == first.applicant
    assert any("executed" in line for line in first.lines), first.lines
    again = run_accounts_demo(client, consortium.registry, indexer.catch_up)
    assert again.proposal_id is None and "earlier run" in again.lines[0]
    assert any("no statement" in line for line in again.lines)
