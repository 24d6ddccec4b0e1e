"""A trading day with something for the surveillance to find, on a real chain: the scripted day of
:mod:`tests.utils.market_day` (E0 and E1 trade with each other in the call, by a take and by a
block trade) and a closing ramp (E3 lifts the price 3.9 % twenty minutes before the close), with
account records putting E0 and E1 in one enterprise group."""

from __future__ import annotations

from datetime import date

from domain.market import Side
from tests.conftest import Consortium
from tests.utils.compliance import ENTERPRISES
from tests.utils.market_day import RULES, TOKEN, MarketDay, at, close_day, trade_day

E0, E1, E2, E3 = ENTERPRISES
GROUP = "Zhejiang Provincial Energy Group"
CONTROLLER = "Zhejiang SASAC"
#: The account records (CSV) of the day's traders: E0 and E1 in one group with one controller; E2
#: and E3 on their own (E2's controller recorded, E3's group left empty).
RECORDS_CSV = (
    "account,group,controller\n"
    f"{E0.address},{GROUP},{CONTROLLER}\n"
    f"{E1.address},{GROUP},{CONTROLLER}\n"
    f"{E2.address},Ningbo Port Holdings,Ningbo SASAC\n"
    f"{E3.address},,Li Wei\n"
)


def surveilled_day(c: Consortium) -> MarketDay:
    """Trade :func:`tests.utils.market_day.trade_day`, then at 14:39 E3 buys the 25 t left of E0's
    offer at 10,200, at 14:40 E2 offers 20 t at 10,600 and at 14:41 E3 buys them (the last listing
    price was 10,200: +3.9 % by E3), then close the day."""
    d = trade_day(c)
    at(c, d.day, RULES.close2 - 21 * 60)
    c.market.place(E3, TOKEN, Side.BUY, 10_200, 25)
    at(c, d.day, RULES.close2 - 20 * 60)
    c.market.place(E2, TOKEN, Side.SELL, 10_600, 20)
    at(c, d.day, RULES.close2 - 19 * 60)
    c.market.place(E3, TOKEN, Side.BUY, 10_600, 20)
    close_day(c, d)
    return d


def day_text(d: MarketDay) -> str:
    """The day as ``YYYY-MM-DD``."""
    return date.fromordinal(date(1970, 1, 1).toordinal() + d.day).isoformat()
