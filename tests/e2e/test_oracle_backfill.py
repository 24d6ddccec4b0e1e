"""Back-filled frames on a real chain: device-signed, anchored like live ones, provable on-chain,
and never anchored twice (a replay of the recovered data after the gap closed anchors nothing)."""

from __future__ import annotations

from datetime import datetime, timedelta

from chain.accounts import dev_account
from chain.anchoring import LedgerAnchorPort
from oracle.anchor import Anchorer
from oracle.gateway import CHINA_STANDARD_TIME, Gateway, GatewayDevice
from oracle.hj212 import CN_MINUTE_DATA, execution_result, history_window, parse, request_answer
from oracle.queue import Queue
from oracle.signing.eip712 import ReadingDomain
from tests.conftest import Consortium
from tests.utils.chain import register
from tests.utils.readings import device_key, device_password, minute_frame, signer

MN = "33100000000111"
START = datetime(2027, 6, 1, 0, 0)
LATE = datetime(2028, 1, 1).replace(tzinfo=CHINA_STANDARD_TIME).timestamp()


def test_backfilled_readings_are_anchored_once_and_verify_on_chain(fresh: Consortium) -> None:
    c = fresh
    domain = ReadingDomain(c.chain.chain_id, c.ledger.address)
    enterprise = dev_account(37).address
    register(c.registry, c.members, enterprise, 903)
    device = signer(13, domain=domain).address
    c.registry.bind_device(c.regulator, device, enterprise, MN, oracle=c.oracle.address)
    gw = Gateway(
        [GatewayDevice(MN, enterprise, device_key(13), device_password(MN))],
        Queue(),
        domain,
        directory=c.registry,
        clock=lambda: LATE,
    )
    anchorer = Anchorer(
        gw.queue, LedgerAnchorPort(c.ledger, c.oracle), max_size=64, max_age_seconds=3600,
        enterprises=gw.enterprises, max_span=c.ledger.max_sequence_span(),
    )  # fmt: skip
    try:
        minute = timedelta(minutes=1)
        for m in (0, 1, 4):  # minutes 2 and 3 lost in transit
            commands = gw.handle(minute_frame(MN, START + m * minute))
        assert commands is not None
        request = parse(commands[0])
        assert request.cn == CN_MINUTE_DATA and history_window(request) == (
            START + 2 * minute,
            START + 3 * minute,
        )
        gw.handle(parse(request_answer(request)))
        for m in (2, 3):
            gw.handle(minute_frame(MN, START + m * minute, qn=request.qn))
        gw.handle(parse(execution_result(request)))
        assert gw.backfill.stats.frames_backfilled == 2 and not gw.backfill.gaps()
        report = anchorer.step(flush=True)
        assert report.anchored >= 1
        readings = gw.queue.device_readings(device)
        assert len(readings) == 5 * 7 and gw.queue.stats().readings["ANCHORED"] == 35  # 7 signed a frame
        backfilled = [r for r in readings if r.signed.reading.time == int((START + 2 * minute).replace(
            tzinfo=CHINA_STANDARD_TIME).timestamp())]  # fmt: skip
        assert backfilled and gw.is_backfilled(MN, CN_MINUTE_DATA, START + 2 * minute)
        row = backfilled[0]
        proof = gw.queue.proof(row.row_id)
        assert c.ledger.verify_reading(
            proof.batch_id, row.signed.reading, row.signed.witness, list(proof.proof)
        )
        events = len(c.ledger.anchored_events())
        # the recovered data sent again, as history or live: refused, nothing more anchored
        gw.handle(minute_frame(MN, START + 2 * minute, qn=request.qn))
        gw.handle(minute_frame(MN, START + 3 * minute))
        again = anchorer.step(flush=True)
        assert (again.cut, again.sent, again.anchored) == (0, 0, 0)
        assert len(c.ledger.anchored_events()) == events and len(gw.queue.device_readings(device)) == 35
    finally:
        gw.queue.close()
