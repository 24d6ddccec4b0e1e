"""Benchmark: back-fill throughput, frames per second a gateway recovers from a controller over a PTY.

What is measured
----------------

One virtual controller (wastewater, 8 factors, no faults) builds ``frames`` minute frames that
never reach the gateway (its store holds them), then sends one live frame over a real
pseudo-terminal to a :class:`~oracle.gateway.Gateway` reading it with a
:class:`~oracle.transport.SerialFrameReader` into a file-backed queue. An operator's window
(:meth:`Gateway.request_history`) covers the missing frames; the gateway asks with HJ 212-2017
history requests (CN=2051, at most 240 minutes each, the next one chained on each 9012), the
controller answers each with 9011, the stored frames under the request's QN (each waiting for
its 9014) and 9012. Timed from the live frame's send to the last gap closed:

* ``backfill_frames_per_s``: recovered frames per second (each quality-controlled, signed with
  the device key and stored in its own SQLite transaction before its 9014 goes back);
* ``backfill_readings_per_s``: the signed readings of those frames per second;
* ``backfill_requests``: history requests it took.

The round trip per frame (frame out, 9014 back) bounds it: a controller sends the next stored
frame only after the previous one was answered, as it does with live data.

Run: python -m bench.backfill [--quick]   (last line: one JSON object; progress on stderr)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

from oracle.gateway import CHINA_STANDARD_TIME, Gateway, GatewayDevice
from oracle.hj212 import CN_MINUTE_DATA
from oracle.queue import Queue
from oracle.signing.eip712 import ReadingDomain
from oracle.signing.hashing import keccak
from oracle.simulator.controller import VirtualController
from oracle.simulator.forward import LinkSettings, StoreAndForward
from oracle.simulator.links import PtyLink
from oracle.simulator.profiles import SiteKind, device_mn
from oracle.transport import SerialFrameReader, SerialSettings

START = datetime(2027, 1, 1, 0, 0)
PASSWORD = "bench-pw-01"
DOMAIN = ReadingDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")


def measure(frames: int) -> dict[str, object]:
    """Recover ``frames`` stored minute frames over a PTY; see the module docstring."""
    controller = VirtualController(
        device_mn(1), SiteKind.WASTEWATER, start=START, seed=5, password=PASSWORD, fault_rate=0.0
    )
    for _ in controller.frames(frames):  # lost in transit: only the controller's store has them
        pass
    late = (START + timedelta(days=30)).replace(tzinfo=CHINA_STANDARD_TIME).timestamp()
    with tempfile.TemporaryDirectory() as tmp, Queue(Path(tmp) / "queue.db") as queue:
        device = GatewayDevice(controller.mn, "0x" + "00" * 19 + "a1", keccak(b"bench-backfill"), PASSWORD)
        gateway = Gateway([device], queue, DOMAIN, clock=lambda: late)
        gateway.request_history(
            controller.mn, CN_MINUTE_DATA, START, START + (frames - 1) * timedelta(minutes=1)
        )
        link = PtyLink()
        reader = SerialFrameReader(
            SerialSettings(port=link.path, timeout=0.05), gateway.handle, authenticate=gateway.authenticate
        )
        reader.start()
        sender = StoreAndForward(controller, link, LinkSettings(ack_timeout=5.0, history_linger=2.0))
        began = time.perf_counter()
        worker = threading.Thread(target=sender.run, args=(1,))
        worker.start()
        while gateway.backfill.gaps() and worker.is_alive():
            time.sleep(0.001)
        seconds = time.perf_counter() - began
        worker.join(30)
        reader.stop()
        link.close()
        stats = gateway.backfill.stats
        if stats.frames_backfilled != frames or gateway.backfill.gaps():
            raise RuntimeError(f"recovered {stats.frames_backfilled} of {frames} frames")
        return {
            "backfill_frames": frames,
            "backfill_seconds": round(seconds, 3),
            "backfill_frames_per_s": round(frames / seconds, 1),
            "backfill_readings_per_s": round(stats.readings_backfilled / seconds, 1),
            "backfill_requests": stats.requests_sent,
        }


def main(quick: bool = False) -> dict[str, object]:
    result = measure(240 if quick else 2_400)
    print(f"back-fill over a PTY: {result['backfill_frames_per_s']} frames/s", file=sys.stderr)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="240 frames instead of 2,400")
    print(json.dumps(main(parser.parse_args().quick)))
