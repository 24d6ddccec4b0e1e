"""Valve and reverse control (issue 23, point 7): the regulator's signed order closes the valve of a
simulated controller over a real pseudo-terminal; bad orders are refused by name, nothing sent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from chain.valve import ValveOrder, sign_valve_order
from oracle.errors import (
    ValveOrderDeviceError,
    ValveOrderError,
    ValveOrderExpiredError,
    ValveOrderNotRegulatorError,
    ValveOrderReplayedError,
    ValveOrderSignatureError,
)
from oracle.gateway import Gateway
from oracle.hj212 import CN_VALVE_CONTROL, parse
from oracle.queue import Queue
from oracle.signing.proof import verify
from oracle.simulator.forward import LinkSettings
from oracle.simulator.simulation import run_on_pty
from oracle.transport import SerialFrameReader, SerialSettings
from oracle.valve import (
    VALVE_ACK_CODE,
    VALVE_COMMAND_CODE,
    VALVE_ORDER_CODE,
    VALVE_ORDERS_KEY,
    ControllerValve,
    ReverseControl,
    SignedValveOrder,
    ValveOrderCheck,
    leave_valve_order,
    valve_command,
)
from tests.utils.backfill import LATE, controllers, gateway
from tests.utils.readings import DOMAIN

CHAIN_ID = 31337
REGISTRY = "0x" + "5" * 40
REGULATOR: LocalAccount = Account.from_key("0x" + "11" * 32)
OUTSIDER: LocalAccount = Account.from_key("0x" + "22" * 32)


class Regulators:
    """The registry's active regulators as a set (RegistryRegulators over Anvil: test_valve_chain)."""

    def __init__(self, *accounts: str) -> None:
        self.accounts = {a.lower() for a in accounts}

    def is_active_regulator(self, account: str) -> bool:
        return account.lower() in self.accounts


@pytest.fixture
def queue() -> Iterator[Queue]:
    with Queue() as q:
        yield q


def valve_gateway(queue: Queue) -> Gateway:
    mn = controllers(1)[0].mn
    control = ReverseControl(queue, clock=lambda: LATE)
    check = ValveOrderCheck(CHAIN_ID, REGISTRY, Regulators(REGULATOR.address), [mn], clock=lambda: LATE)
    return gateway(queue, 1, control=control, valve_orders=check)


def order(mn: str, *, action: str = "close", nonce: int = 1, expires: float = LATE + 600,
          by: LocalAccount = REGULATOR, regulator: str | None = None) -> SignedValveOrder:  # fmt: skip
    o = ValveOrder(regulator or by.address, mn, action, nonce, int(expires), "停产整顿: over quota")  # type: ignore[arg-type]
    if by.address != o.regulator:  # a forgery: signed by one key, claiming another regulator
        honest = ValveOrder(by.address, o.mn, o.action, o.nonce, o.expires_at, o.reason)
        return SignedValveOrder(o, sign_valve_order(by, CHAIN_ID, REGISTRY, honest))
    return SignedValveOrder(o, sign_valve_order(by, CHAIN_ID, REGISTRY, o))


def test_bad_valve_orders_are_refused_by_name_and_nothing_is_sent(queue: Queue) -> None:
    gw = valve_gateway(queue)
    assert gw.control is not None
    mn = next(iter(gw.devices))
    bad = [
        (order(mn, by=OUTSIDER), ValveOrderNotRegulatorError),
        (order(mn, by=OUTSIDER, regulator=REGULATOR.address), ValveOrderSignatureError),
        (SignedValveOrder(order(mn).order, b""), ValveOrderSignatureError),
        (SignedValveOrder(order(mn).order, b"\x01" * 65), ValveOrderSignatureError),
        (order(mn, expires=LATE - 1), ValveOrderExpiredError),
        (order("33100000000099"), ValveOrderDeviceError),
    ]
    for signed, error in bad:
        with pytest.raises(error):
            gw.order_valve(signed)
    assert gw.control.log(mn) == [] and gw.control.in_flight(mn) == 0
    gw.order_valve(order(mn, nonce=7))
    log = gw.control.log(mn)
    with pytest.raises(ValveOrderReplayedError, match="nonce 7"):
        gw.order_valve(order(mn, nonce=7, action="open"))
    assert gw.control.log(mn) == log and gw.control.in_flight(mn) == 1
    assert [e["event"] for e in log] == ["order", "command"]
    assert log[0]["regulator"] == REGULATOR.address and log[0]["nonce"] == 7


def test_a_gateway_without_reverse_control_refuses_every_order(queue: Queue) -> None:
    gw = gateway(queue, 1)
    with pytest.raises(ValveOrderError, match="takes no valve orders"):
        gw.order_valve(order(next(iter(gw.devices))))


def test_valve_command_is_the_documented_site_extension() -> None:
    wire = valve_command(mn="M1", pw="pw", st="32", qn="20270301000000000", action="close", crc="modbus")
    frame = parse(wire, crc="modbus")
    assert (frame.cn, frame.extras, frame.needs_ack) == (CN_VALVE_CONTROL, {"ValveCmd": "0"}, True)
    assert parse(valve_command(mn="M1", pw="pw", st="32", qn="1", action="open")).extras == {"ValveCmd": "1"}


def test_a_signed_close_order_closes_the_controllers_valve_over_a_pty_and_the_ack_is_stored(
    queue: Queue,
) -> None:
    gw = valve_gateway(queue)
    assert gw.control is not None
    ctl = controllers(1)[0]
    # the order travels through the queue file, as `ets oracle valve close` leaves it
    leave_valve_order(queue, order(ctl.mn, nonce=42))
    leave_valve_order(queue, order(ctl.mn, nonce=43, by=OUTSIDER))  # refused by the gateway
    sim = run_on_pty([ctl], frames=30, settings=LinkSettings(ack_timeout=3.0), start=False)
    reader = SerialFrameReader(
        SerialSettings(port=sim.ports[0], timeout=0.05), gw.handle, authenticate=gw.authenticate
    )
    reader.start()
    try:
        sim.start()
        assert sim.join(60) and not sim.errors
    finally:
        sim.stop()
        reader.stop()
    assert ctl.valve_open is False and ctl.valve_commands == ["close"]
    events = gw.control.log(ctl.mn)
    assert [e["event"] for e in events] == ["order", "command", "sent", "accepted", "ack"]
    assert events[-1]["ExeRtn"] == 1 and events[-1]["qn"] == events[2]["qn"]
    assert events[0]["nonce"] == 42 and gw.stats.rejected.get("ValveOrderNotRegulatorError") == 1
    assert gw.control.in_flight(ctl.mn) == 0
    assert queue.get_state(VALVE_ORDERS_KEY) is not None
    # the outlet discharged nothing once the valve closed: the last frames' flow totals are 0
    volumes = [
        r.signed.reading
        for r in queue.device_readings(gw.devices[ctl.mn])
        if r.signed.reading.pollutant == "w00000" and r.signed.reading.unit == "m3"
    ]
    assert len(volumes) == 30 and volumes[0].value > 0
    assert all(v.value == 0 for v in volumes[-20:])
    # the order, the command sent and the acknowledgement are device-signed readings, batched and
    # anchored with the rest and verified like them
    address = gw.devices[ctl.mn]
    codes = (VALVE_ORDER_CODE, VALVE_COMMAND_CODE, VALVE_ACK_CODE)
    valve = {
        r.signed.reading.pollutant: r
        for r in queue.device_readings(address)
        if r.signed.reading.pollutant in codes
    }
    assert {code: r.signed.reading.value for code, r in valve.items()} == {
        VALVE_ORDER_CODE: 0, VALVE_COMMAND_CODE: 0, VALVE_ACK_CODE: 1,
    }  # fmt: skip
    for r in valve.values():
        verify(DOMAIN, r.signed, address)
    logged = [e["reading"]["sequence"] for e in events if "reading" in e]
    assert logged == sorted(r.signed.reading.sequence for r in valve.values())
    sequences = [r.signed.reading.sequence for r in queue.device_readings(address)]
    assert sequences == list(range(1, len(sequences) + 1))
    batches = queue.cut_batches(1024, 0, enterprises=gw.enterprises)
    assert sum(b.count for b in batches) == len(sequences) and queue.unbatched() == []


def test_the_quota_controllers_valve_is_a_reverse_control_command(queue: Queue) -> None:
    control = ReverseControl(queue, clock=lambda: LATE)
    valve = ControllerValve(control, "33100000000001")
    valve.close("month's quota used up")
    due = control.due("33100000000001", lambda: "20270301000000001")
    assert due == ("close", "20270301000000001")
    assert control.due("33100000000001", lambda: "x") is None  # in flight: not resent yet
    events = control.log("33100000000001")
    assert [(e["event"], e["action"]) for e in events] == [("command", "close"), ("sent", "close")]
    assert events[0]["source"] == "quota" and events[0]["reason"] == "month's quota used up"
