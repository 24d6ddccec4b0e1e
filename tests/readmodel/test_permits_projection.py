"""The permits projection against a real chain, on SQLite and PostgreSQL: applications, permits
(with their latest revision of outlets and terms) and annual reviews equal the contract's views."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from chain.compile import Artifact
from chain.node import AnvilNode
from chain.permits import ApplicationState, PermitState, Term
from chain.tx import ChainClient
from readmodel import models as m
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from tests.conftest import Consortium
from tests.utils.permits import (
    DOC,
    ENTERPRISES,
    SO2,
    applied,
    deploy_permits_suite,
    issued,
    outlets,
    permits_of,
)

E0, E1, E2, E3 = ENTERPRISES


@pytest.fixture(scope="module")
def world(
    anvil: AnvilNode, artifacts: dict[str, Artifact], tmp_path_factory: pytest.TempPathFactory
) -> Consortium:
    c = deploy_permits_suite(
        anvil, ChainClient.connect(anvil.url, artifacts), Path(tmp_path_factory.mktemp("pp"))
    )
    p = permits_of(c)
    first = issued(c, E0)
    p.change(c.regulator, first, outlets(E0, 3), [Term(SO2, 700, 1)])
    p.change(c.regulator, first, outlets(E0, 2), [Term(SO2, 600, 2)])
    p.annual_review(c.regulator, first, 2027, False, "exceedances")
    p.renew(c.regulator, first, c.chain.timestamp() + 20 * 365 * 86_400)
    app = applied(c, E1)
    p.review_return(c.regulator, app, "more")
    p.resubmit(E1, app, outlets(E1, 2), [Term(SO2, 5, 0)], DOC)
    p.refuse(c.regulator, applied(c, E2), "no")
    p.cancel(c.regulator, issued(c, E3), "closure")
    return c


def test_permits_projection_equals_the_chain(world: Consortium, database_url: str) -> None:
    c, p = world, permits_of(world)
    engine = make_engine(database_url)
    upgrade(engine)
    Indexer(c.chain, c.manifest, engine).catch_up()
    with Session(engine) as session:
        permits = {r.permit_id: r for r in session.scalars(select(m.DischargePermit))}
        apps = {r.application_id: r for r in session.scalars(select(m.PermitApplication))}
        reviews = [(r.permit_id, r.year, r.passed, r.note) for r in session.scalars(select(m.PermitReview))]
    engine.dispose()
    assert set(permits) == set(range(1, p.permit_count() + 1))
    for permit_id, row in permits.items():
        chain_permit = p.permit(permit_id)
        assert (row.enterprise, row.number, row.revision, row.valid_until) == (
            chain_permit.enterprise, chain_permit.number, chain_permit.revision, chain_permit.valid_until,
        )  # fmt: skip
        assert row.status == chain_permit.state.name.lower()
        assert [(o["code"], o["mn"]) for o in row.outlets] == [(o.code, o.mn) for o in chain_permit.outlets]
        assert [(t["pollutant"], t["annual_amount"], t["concentration_limit"]) for t in row.terms] == [
            (t.pollutant, t.annual_amount, t.concentration_limit) for t in chain_permit.terms
        ]
    assert permits[1].revision == 2 and permits[2].status == PermitState.CANCELLED.name.lower()
    assert set(apps) == set(range(1, p.application_count() + 1))
    for app_id, app in apps.items():
        chain_app = p.application(app_id)
        assert app.status == chain_app.state.name.lower() and app.enterprise == chain_app.enterprise
        assert len(app.outlets) == len(chain_app.outlets) and len(app.terms) == len(chain_app.terms)
        assert (app.permit_id or 0) == chain_app.permit_id
    assert apps[2].submissions == 2 and apps[2].status == ApplicationState.SUBMITTED.name.lower()
    assert reviews == [(1, 2027, False, "exceedances")]
