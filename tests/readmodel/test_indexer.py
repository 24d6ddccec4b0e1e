"""The indexer against a real chain: projections equal the chain's state, checkpoints resume
without loss or duplicates, confirmations hold events back, a reset chain is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from chain.errors import IndexerError
from readmodel import models as m
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from readmodel.totals import rebuild_totals
from tests.conftest import Consortium
from tests.utils.compliance import ENTERPRISES, IDS, setup_cycle


def _indexer(c: Consortium, url: str, **kwargs: int) -> Indexer:
    engine = make_engine(url)
    upgrade(engine)
    return Indexer(c.chain, c.manifest, engine, **kwargs)


def assert_totals_match_rollups(indexer: Indexer) -> None:
    """The totals the indexer kept page by page equal the totals rebuilt from its rollups."""

    def read(conn: Any) -> dict[tuple[Any, ...], tuple[float, int]]:
        t = m.StatTotal
        rows = conn.execute(select(t.grain, t.metric, t.dim, t.pollutant, t.period, t.key, t.value, t.count))
        return {tuple(r[:6]): (r[6], r[7]) for r in rows}

    with indexer.engine.connect() as conn:
        kept = read(conn)
        rebuild_totals(conn)
        rebuilt = read(conn)
        conn.rollback()
    assert kept, "no totals kept"
    assert kept.keys() == rebuilt.keys()
    for key, (value, count) in rebuilt.items():
        assert kept[key] == (pytest.approx(value), count), key


def test_indexer_holdings_equal_chain_balances_after_backfill(fresh: Consortium, database_url: str) -> None:
    setup_cycle(fresh)
    fresh.allowance.transfer(ENTERPRISES[0], ENTERPRISES[1].address, IDS[1], 25)
    indexer = _indexer(fresh, database_url, page_blocks=7)
    indexed = indexer.catch_up()
    assert indexed > 0
    with indexer.engine.connect() as conn:
        held = {(r.account, r.token_id): r.balance for r in conn.execute(select(m.Holding))}
        participants = conn.execute(select(func.count()).select_from(m.Participant)).scalar_one()
        notices = conn.execute(select(func.count()).select_from(m.Notice)).scalar_one()
    for e in ENTERPRISES:
        for token_id in IDS:
            assert held[(e.address, token_id)] == fresh.allowance.balance(e.address, token_id)
        assert held[(e.address, 0)] == fresh.cash.balance(e.address)
    assert participants >= len(ENTERPRISES)
    assert notices == 3
    status = indexer.status()
    assert status.lag == 0 and status.events == indexed
    assert_totals_match_rollups(indexer)


def _counts(indexer: Indexer) -> tuple[int, int, dict[tuple[str, int], int]]:
    with indexer.engine.connect() as conn:
        events = conn.execute(select(func.count()).select_from(m.Event)).scalar_one()
        parties = conn.execute(select(func.count()).select_from(m.EventParty)).scalar_one()
        held = {(r.account, r.token_id): r.balance for r in conn.execute(select(m.Holding))}
    return events, parties, held


def test_indexer_resumes_without_loss_or_duplicates_after_restart_and_failed_page(
    fresh: Consortium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_cycle(fresh)
    whole = _indexer(fresh, f"sqlite:///{tmp_path}/whole.db")
    whole.catch_up()
    url = f"sqlite:///{tmp_path}/resumed.db"
    first = _indexer(fresh, url, page_blocks=3)
    for _ in range(4):
        first.step()
    # a page that fails half-way (a crash inside the transaction) leaves nothing behind
    second = _indexer(fresh, url, page_blocks=50)
    calls = 0
    original = second.projector._flush

    def crash(conn: Any) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("power cut")

    monkeypatch.setattr(second.projector, "_flush", crash)
    before = second.checkpoint()
    with pytest.raises(RuntimeError):
        second.catch_up()
    assert calls == 1 and second.checkpoint() == before
    monkeypatch.setattr(second.projector, "_flush", original)
    third = _indexer(fresh, url, page_blocks=50)  # a restarted process
    third.catch_up()
    assert _counts(third) == _counts(whole)


def test_indexer_waits_for_confirmations(fresh: Consortium, tmp_path: Path) -> None:
    setup_cycle(fresh)
    indexer = _indexer(fresh, f"sqlite:///{tmp_path}/c.db", confirmations=3)
    indexer.catch_up()
    head = fresh.chain.w3.eth.block_number
    assert indexer.checkpoint()[0] == head - 3  # type: ignore[index]
    for _ in range(3):
        fresh.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    indexer.catch_up()
    assert indexer.checkpoint()[0] == head  # type: ignore[index]


def test_indexer_refuses_a_chain_reset_below_its_checkpoint(fresh: Consortium, tmp_path: Path) -> None:
    snapshot = fresh.snapshot()
    setup_cycle(fresh)
    indexer = _indexer(fresh, f"sqlite:///{tmp_path}/r.db")
    indexer.catch_up()
    fresh.revert(snapshot)
    with pytest.raises(IndexerError, match="no longer on the chain"):
        indexer.step()


def test_indexer_refuses_a_read_model_of_another_deployment(fresh: Consortium, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/other.db"
    indexer = _indexer(fresh, url)
    with indexer.engine.begin() as conn:
        conn.execute(m.Meta.__table__.insert().values(key="registry", value="0x" + "11" * 20))
    with pytest.raises(IndexerError, match="belongs to registry"):
        indexer.step()


moves = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 3), st.sampled_from(IDS), st.integers(1, 60)), max_size=12
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=moves)
def test_indexer_conserves_allowances_and_cash_for_any_transfers(
    consortium: Consortium, tmp_path_factory: pytest.TempPathFactory, moves: list[tuple[int, int, int, int]]
) -> None:
    snapshot = consortium.snapshot()
    try:
        setup_cycle(consortium)
        for src, dst, token_id, amount in moves:
            if src != dst and consortium.allowance.balance(ENTERPRISES[src].address, token_id) >= amount:
                consortium.allowance.transfer(ENTERPRISES[src], ENTERPRISES[dst].address, token_id, amount)
        indexer = _indexer(consortium, f"sqlite:///{tmp_path_factory.mktemp('prop')}/p.db", page_blocks=5)
        indexer.catch_up()
        _, _, held = _counts(indexer)
        for token_id in IDS:
            # every unit minted is held by someone: sum of balances == issued - retired (no make-good here)
            total = sum(v for (_, t), v in held.items() if t == token_id)
            assert total == consortium.allowance.issued(token_id) - consortium.allowance.retired(token_id)
            for e in ENTERPRISES:
                assert held.get((e.address, token_id), 0) == consortium.allowance.balance(e.address, token_id)
        cash_total = sum(v for (_, t), v in held.items() if t == 0)
        assert cash_total == sum(consortium.cash.balance(e.address) for e in ENTERPRISES)
        assert_totals_match_rollups(indexer)
    finally:
        consortium.revert(snapshot)
