"""Properties of settlement over random multi-day histories projected into a read model: every
movement is settled in exactly one trading day, allowances and cash are conserved (the day's net
movements per id equal the change in total supply), opening(D) = closing(D−1), and closing
balances equal an independent replay of the history."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, insert
from sqlalchemy.pool import StaticPool

from chain.events import ZERO_ADDRESS, DecodedEvent
from domain.tokens import CASH_ID as CASH
from readmodel import models as m
from readmodel.indexer.project import Projector
from settlement.calendar import TradingCalendar
from settlement.reconcile import reconcile
from settlement.run import day_bounds, settle

CALENDAR = TradingCalendar(holidays=frozenset({date(2027, 6, 29)}))
#: Monday 2027-06-28 09:00 Asia/Shanghai; the history spans into Friday 2027-07-02.
START = CALENDAR.close_at(date(2027, 6, 28)) - 6 * 3600
DAYS = [date(2027, 6, 28), date(2027, 6, 30), date(2027, 7, 1), date(2027, 7, 2)]
ACCOUNTS = [f"0x{i:040x}" for i in range(1, 6)]
IDS = [CASH, 1 << 24 | 1 << 16 | 2027, 1 << 24 | 2 << 16 | 2026]

# (seconds after START, kind, from index, to index, id index, amount)
step = st.tuples(
    st.integers(0, 4 * 86_400),
    st.sampled_from(["mint", "burn", "move"]),
    st.integers(0, len(ACCOUNTS) - 1),
    st.integers(0, len(ACCOUNTS) - 1),
    st.integers(0, len(IDS) - 1),
    st.integers(1, 1_000),
)


def _events(steps: list[tuple[int, str, int, int, int, int]]) -> list[DecodedEvent]:
    """Events replaying ``steps`` in time order, skipping burns and moves the balance cannot cover."""
    balance: dict[tuple[str, int], int] = defaultdict(int)
    out = []
    block = 0
    for offset, kind, a, b, t, amount in sorted(steps):
        token = IDS[t]
        sender = ZERO_ADDRESS if kind == "mint" else ACCOUNTS[a]
        recipient = ZERO_ADDRESS if kind == "burn" else ACCOUNTS[b]
        if sender != ZERO_ADDRESS:
            if balance[(sender, token)] < amount:
                continue
            balance[(sender, token)] -= amount
        if recipient != ZERO_ADDRESS:
            balance[(recipient, token)] += amount
        block += 1
        tx = "0x" + f"{block:064x}"
        if token == CASH:
            args = {"from": sender, "to": recipient, "value": amount}
            out.append(
                DecodedEvent(
                    block, 0, tx, START + offset, "SettlementToken", ZERO_ADDRESS, "Transfer", args, ()
                )
            )
        else:
            args = {"operator": sender, "from": sender, "to": recipient, "id": token, "value": amount}
            out.append(
                DecodedEvent(
                    block, 0, tx, START + offset, "AllowanceToken", ZERO_ADDRESS, "TransferSingle", args, ()
                )
            )
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=60))
def test_settle_conserves_supply_and_chains_days_for_any_history(
    steps: list[tuple[int, str, int, int, int, int]],
) -> None:
    events = _events(steps)
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    m.Base.metadata.create_all(engine)
    last_block = events[-1].block_number if events else 0
    with engine.begin() as conn:
        Projector().apply(conn, events)
        conn.execute(
            insert(m.Checkpoint).values(name="events", block_number=last_block, block_hash="0x", updated_at=0)
        )
    now = START + 10 * 86_400
    previous: dict[tuple[str, int], int] = {}
    settled_blocks: list[int] = []
    for day in DAYS:
        bounds = day_bounds(engine, CALENDAR, day, now=now)
        s = settle(engine, bounds)
        start, end = CALENDAR.window(day)
        in_day = [e for e in events if start <= e.block_time < end]
        assert s.movements == len(in_day)
        settled_blocks += [e.block_number for e in in_day]
        for line in s.lines:
            assert line.opening == previous.get((line.account, line.token_id), 0)
            assert line.closing == line.opening + line.net
        for token in IDS:
            minted = sum(
                e.args["value"] for e in in_day if e.args["from"] == ZERO_ADDRESS and _token(e) == token
            )
            burned = sum(
                e.args["value"] for e in in_day if e.args["to"] == ZERO_ADDRESS and _token(e) == token
            )
            assert sum(x.net for x in s.lines if x.token_id == token) == minted - burned
        replay: dict[tuple[str, int], int] = defaultdict(int)
        for e in events:
            if e.block_time < end:
                if e.args["from"] != ZERO_ADDRESS:
                    replay[(e.args["from"], _token(e))] -= e.args["value"]
                if e.args["to"] != ZERO_ADDRESS:
                    replay[(e.args["to"], _token(e))] += e.args["value"]
        assert {k: v for k, v in replay.items()} == {(x.account, x.token_id): x.closing for x in s.lines}
        assert reconcile(engine, s).balanced
        previous = {(x.account, x.token_id): x.closing for x in s.lines}
    # every movement up to the last day's close settled exactly once (2027-06-29 is a holiday:
    # its movements fall into 2027-06-30)
    assert sorted(settled_blocks) == [
        e.block_number for e in events if e.block_time < CALENDAR.close_at(DAYS[-1])
    ]


def _token(event: DecodedEvent) -> int:
    return CASH if event.contract == "SettlementToken" else int(event.args["id"])
