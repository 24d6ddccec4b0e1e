"""A scripted trading day on a consortium set up by :func:`tests.utils.compliance.setup_cycle`, for
the read model's and the API's market tests: an opening call auction, continuous trading with
partial fills, a cancel, a take, an accepted and a pending block proposal, on CO2 2024 with a fee,
at chosen CST times of a weekday."""

from __future__ import annotations

from dataclasses import dataclass, field

from chain.market import cst_time, next_weekday_at, set_chain_time, trading_day
from domain.market import Rulebook, Side
from tests.conftest import Consortium
from tests.utils.compliance import CO2_2024, ENTERPRISES

TOKEN = CO2_2024
#: Small enough for the enterprises' 1,000 t; listing orders stay below it.
RULES = Rulebook(reference_price=10_000, fee_bps=5, block_minimum=300)
E0, E1, E2, E3 = ENTERPRISES


@dataclass
class MarketDay:
    """What the day did: the ids it created, by role in the script."""

    day: int
    orders: dict[str, int] = field(default_factory=dict)
    take_id: int = 0
    accepted_block: int = 0
    pending_block: int = 0


def at(c: Consortium, day: int, time_of_day: int) -> None:
    """Mine the next block at ``time_of_day`` (CST seconds) of trading day ``day``."""
    set_chain_time(c.chain, cst_time(day, time_of_day))


def list_token(c: Consortium, rules: Rulebook = RULES) -> None:
    """List :data:`TOKEN` and approve the market for E0..E3's cash and allowances."""
    c.market.set_rulebook(c.exchange, TOKEN, rules)
    for e in ENTERPRISES:
        c.market.ensure_approvals(e)


def trade_day(c: Consortium, rules: Rulebook = RULES) -> MarketDay:
    """List :data:`TOKEN` and trade one day on it (the next weekday), ending in the afternoon
    session with orders still open and a block proposal pending."""
    list_token(c, rules)
    day, _ = trading_day(next_weekday_at(c.chain.timestamp(), rules.call_start + 60))
    d = MarketDay(day)
    place = c.market.place
    at(c, day, rules.call_start + 60)
    d.orders["call_buy_e0"] = place(E0, TOKEN, Side.BUY, 10_100, 100).id
    d.orders["call_sell_e1"] = place(E1, TOKEN, Side.SELL, 9_950, 60).id
    d.orders["call_sell_e2"] = place(E2, TOKEN, Side.SELL, 10_050, 80).id
    d.orders["call_buy_e3"] = place(E3, TOKEN, Side.BUY, 9_900, 30).id
    at(c, day, rules.open1 + 10)
    c.market.uncross_all(c.exchange, TOKEN)
    # the call uncrosses at 10,050 for 100 t: E0 buys E1's 60 and 40 of E2's 80
    d.orders["sell_e1"] = place(E1, TOKEN, Side.SELL, 10_000, 50).id  # rests below E2's 40 left
    d.orders["buy_e3"] = place(E3, TOKEN, Side.BUY, 10_060, 100).id  # fills 50 + 40, 10 rest
    d.orders["sell_e0"] = place(E0, TOKEN, Side.SELL, 10_200, 40).id
    d.orders["buy_e2"] = place(E2, TOKEN, Side.BUY, 9_800, 70).id
    c.market.cancel(E3, d.orders["call_buy_e3"])
    d.take_id = c.market.take(E1, d.orders["sell_e0"], 15).id
    at(c, day, rules.block_from + 60)
    d.accepted_block = c.market.propose_block(E1, TOKEN, E0.address, 9_500, 300)
    c.market.accept_block(E0, d.accepted_block)
    d.pending_block = c.market.propose_block(E2, TOKEN, E3.address, 10_500, 320)
    return d


def close_day(c: Consortium, d: MarketDay, rules: Rulebook = RULES) -> None:
    """After the afternoon close: expire the day's open orders and pending blocks."""
    at(c, d.day, rules.close2 + 60)
    c.market.expire_all(c.exchange, TOKEN)
