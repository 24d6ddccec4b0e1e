"""``ets review`` on a real Anvil: the regulator and the assigned auditor record decisions signed
with their keys; refusals printed by name (an enterprise, an unassigned auditor, a duplicate, a
substitution without a method); the queue and decisions listed from a read model."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chain.accounts import demo_account
from ets.cli import main as cli
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from tests.conftest import Consortium
from tests.utils.chain import register

Run = Callable[..., tuple[int, str]]
ENTERPRISE = demo_account("enterprise-1")
OTHER = demo_account("enterprise-2")
SUBJECT = "0x" + "3c" * 32


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def ets(fresh: Consortium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    c = fresh
    register(c.registry, c.members, ENTERPRISE.address, 991)
    register(c.registry, c.members, OTHER.address, 992)
    c.registry.assign_auditor(c.regulator, c.auditor.address, ENTERPRISE.address)
    monkeypatch.setenv("ETS_RPC_URL", c.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    monkeypatch.setenv("ETS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("ETS_MANIFEST", str(c.manifest_path))
    monkeypatch.setenv("ETS_DEMO", "1")
    monkeypatch.setenv("ETS_DATABASE_URL", f"sqlite:///{tmp_path}/read.db")

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli.app, list(args))
        return result.exit_code, flat(result.output)

    yield run


def _decide(run: Run, who: str, enterprise: str, *extra: str) -> tuple[int, str]:
    return run("review", "decide", "--enterprise", enterprise, "--subject", SUBJECT, "--month", "202701",
               "--pollutant", "w01018", "--as", who, *extra)  # fmt: skip


def test_review_decide_records_signed_decisions_and_refuses_by_name(ets: Run, fresh: Consortium) -> None:
    code, out = _decide(ets, "enterprise-1", ENTERPRISE.address, "--action", "reject")
    assert code != 0 and "LedgerNotReviewer" in out, out
    code, out = _decide(ets, "auditor", OTHER.address, "--action", "reject")
    assert code != 0 and "LedgerAuditorNotAssigned" in out, out
    code, out = _decide(ets, "regulator", ENTERPRISE.address, "--action", "substitute")
    assert code != 0 and "ReviewInputError" in out and "method" in out, out

    code, out = _decide(
        ets, "auditor", ENTERPRISE.address, "--action", "substitute", "--method", "permmax", "--value", "35.5"
    )
    assert code == 0, out
    assert "substitute permmax = 35.5" in out and "(auditor)" in out
    decision = fresh.ledger.review_decision_of(ENTERPRISE.address, SUBJECT)
    assert decision is not None and f"0x{decision.hex()}" in out

    code, out = _decide(ets, "regulator", ENTERPRISE.address, "--action", "accept")
    assert code != 0 and "LedgerReviewAlreadyDecided" in out, out


def test_review_queue_and_decisions_read_the_read_model(ets: Run, fresh: Consortium, tmp_path: Path) -> None:
    assert _decide(ets, "regulator", ENTERPRISE.address, "--action", "accept")[0] == 0
    engine = make_engine(f"sqlite:///{tmp_path}/read.db")
    upgrade(engine)
    Indexer(fresh.chain, fresh.manifest, engine).catch_up()
    engine.dispose()
    code, out = ets("review", "decisions", "--enterprise", ENTERPRISE.address, "--json")
    assert code == 0, out
    [row] = json.loads(out)
    assert (row["action"], row["reviewer_role"], row["subject"]) == ("accept", 1, SUBJECT)
    code, out = ets("review", "queue", "--enterprise", ENTERPRISE.address, "--month", "202701", "--json")
    assert code == 0 and json.loads(out) == [], out
