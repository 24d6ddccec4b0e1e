"""Faults while readings flow: the chain node is SIGKILLed and restarted; the gateway process is
SIGKILLed mid-batch and restarted. Either way every frame a controller sent is stored once and
every stored reading is anchored exactly once on the chain that is left."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from eth_account import Account
from pydantic import SecretStr

from chain.accounts import demo_account, dev_account, write_keystore
from chain.compile import ROOT, compile_contracts
from chain.deploy import Manifest, SuiteConfig, deploy_suite
from chain.ledger import LedgerClient
from chain.node import AnvilNode, free_port
from chain.registry import RegistryClient
from chain.tx import ChainClient
from oracle.gateway import CHINA_STANDARD_TIME
from oracle.queue import Queue
from oracle.service import DeviceEntry, OracleService, OracleSettings, SiteConfig
from oracle.signing.eip712 import ReadingDomain
from oracle.simulator.controller import VirtualController
from oracle.simulator.forward import LinkSettings
from oracle.simulator.profiles import SiteKind
from oracle.simulator.simulation import run_over_tcp
from tests.utils.chain import register
from tests.utils.readings import device_key, signer

pytestmark = pytest.mark.timeout(240)

PASSWORD = "fault-test-device"
# The gateway checks DataTime against its wall clock: the frames cover the last few hours.
START = (datetime.now(CHINA_STANDARD_TIME) - timedelta(hours=4)).replace(tzinfo=None, second=0, microsecond=0)
FRAMES = 150  # per controller; 2 controllers x 13-15 readings a frame


@dataclass
class Chain:
    chain: ChainClient
    registry: RegistryClient
    ledger: LedgerClient
    manifest: Manifest
    manifest_path: Path


def _deploy(url: str, manifest_path: Path) -> Chain:
    chain = ChainClient.connect(url, compile_contracts())
    members = [demo_account(n) for n in ("regulator", "exchange", "industry-body")]
    config = SuiteConfig(tuple(m.address for m in members), 2)
    manifest = deploy_suite(chain, demo_account("deployer"), config, manifest_path)
    registry = RegistryClient(chain, manifest.address("ConsortiumRegistry"))
    registry.grant_roles(
        members, [("REGULATOR", members[0].address), ("ORACLE", demo_account("oracle").address)]
    )
    ledger = LedgerClient(chain, manifest.address("EmissionsLedger"))
    return Chain(chain, registry, ledger, manifest, manifest_path)


def _site(c: Chain, tmp: Path, seeds: tuple[int, ...] = (41, 42)) -> SiteConfig:
    """Two devices of two enterprises, bound on-chain to the demo oracle key, keys in encrypted
    keystores, each with its own access password."""
    domain = ReadingDomain(c.chain.chain_id, c.ledger.address)
    entries = []
    for n, seed in enumerate(seeds):
        enterprise = dev_account(30 + n).address
        register(c.registry, [demo_account(m) for m in ("regulator", "exchange")], enterprise, seed)
        mn = f"3310029900{seed:04d}"
        c.registry.bind_device(
            demo_account("regulator"), signer(seed, domain=domain).address, enterprise, mn,
            oracle=demo_account("oracle").address,
        )  # fmt: skip
        keystore = write_keystore(Account.from_key(device_key(seed)), tmp / "keys" / f"{mn}.json", PASSWORD)
        password = SecretStr(f"pw-{seed}-{mn[-4:]}")
        entries.append(DeviceEntry(mn=mn, enterprise=enterprise, password=password, keystore=keystore))
    site = SiteConfig(devices=entries)
    site.save(tmp / "site.json")
    return site


def _controllers(site: SiteConfig) -> list[VirtualController]:
    kinds = (SiteKind.WASTEWATER, SiteKind.FLUE_GAS)
    return [
        VirtualController(
            d.mn,
            kinds[i % 2],
            start=START,
            seed=500 + i,
            fault_rate=0.0,
            password=d.password.get_secret_value(),
        )
        for i, d in enumerate(site.devices)
    ]


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _anchored_count(queue_path: Path) -> int:
    with Queue(queue_path) as queue:
        return queue.stats().readings["ANCHORED"]


def _assert_exactly_once(c: Chain, queue_path: Path, site: SiteConfig, frames_per_device: int) -> None:
    """Every frame stored once; every stored reading anchored once, in order, on this chain."""
    domain = ReadingDomain(c.chain.chain_id, c.ledger.address)
    with Queue(queue_path) as queue:
        assert queue.frame_count() == frames_per_device * len(site.devices)
        stats = queue.stats()
        assert stats.settled
        last = queue.last_sequences()
        batches = queue.batches()
        assert all(c.ledger.is_anchored(b.batch_id) for b in batches)
    events = c.ledger.anchored_events()
    for entry, seed in zip(site.devices, (41, 42), strict=True):
        device = signer(seed, domain=domain).address
        ranges = sorted((e.first_sequence, e.last_sequence) for e in events if e.device == device)
        covered = [s for first, final in ranges for s in range(first, final + 1)]
        assert covered == list(range(1, last[device] + 1)), f"{entry.mn}: anchored ranges {ranges}"
    assert sum(e.count for e in events) == stats.readings["ANCHORED"]


# --- the chain node dies --------------------------------------------------------------------


@pytest.fixture
def own_node(tmp_path: Path) -> Iterator[AnvilNode]:
    node = AnvilNode(port=free_port(), state_path=tmp_path / "anvil-state.json", state_interval=1)
    node.start()
    yield node
    node.stop()


def test_chain_node_killed_and_restarted_while_readings_flow_anchors_every_reading_once(
    own_node: AnvilNode, tmp_path: Path
) -> None:
    c = _deploy(own_node.url, tmp_path / "deployment.json")
    site = _site(c, tmp_path)
    time.sleep(1.5)  # the deployment reaches a state dump
    queue_path = tmp_path / "queue.db"
    settings = OracleSettings(
        keystore_password=PASSWORD, tcp_port=0, batch_size=32, batch_age_seconds=0.3, anchor_interval=0.2
    )  # type: ignore[arg-type]
    service = OracleService(
        settings, site, chain=c.chain, manifest=c.manifest, oracle_account=demo_account("oracle"),
        queue_path=queue_path,
    )  # fmt: skip
    with service:
        host, port = service.tcp_address or ("", 0)
        simulation = run_over_tcp(_controllers(site), host, port, frames=FRAMES, interval=0.02, start=False)
        with simulation:
            _wait(lambda: service.queue.stats().readings["ANCHORED"] > 200, 60, "first anchors")
            own_node.kill()  # SIGKILL: blocks mined since the last dump are lost too
            readings_at_kill = service.queue.stats().readings["ANCHORED"]
            time.sleep(1.5)  # frames keep flowing and are answered while the chain is away
            own_node.start()  # same port, state from the last dump
            assert simulation.join(timeout=120), "controllers did not finish"
            sent = simulation.stats()
        _wait(lambda: service.queue.stats().settled, 90, "everything anchored after the restart")
        assert service.anchorer.stats.outages >= 1
    assert readings_at_kill > 0
    assert all(s.answered == FRAMES and s.unanswered == 0 for s in sent.values())
    _assert_exactly_once(c, queue_path, site, FRAMES)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


# --- the gateway process dies ---------------------------------------------------------------


def _gateway_process(
    env: dict[str, str], site_path: Path, queue_path: Path, port: int
) -> subprocess.Popen[bytes]:
    command = [
        str(Path(sys.executable).parent / "ets"), "oracle", "run", "--tcp-port", str(port),
        "--site", str(site_path), "--queue", str(queue_path), "--batch-size", "32", "--batch-age", "0.3",
        "--status-every", "0",
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_gateway_process_killed_mid_batch_and_restarted_anchors_every_reading_once(
    own_node: AnvilNode, tmp_path: Path
) -> None:
    c = _deploy(own_node.url, tmp_path / "deployment.json")
    site = _site(c, tmp_path)
    queue_path = tmp_path / "queue.db"
    port = free_port()
    env = os.environ | {
        "ETS_RPC_URL": own_node.url, "ETS_MANIFEST": str(c.manifest_path), "ETS_STATE_DIR": str(tmp_path),
        "ETS_DEMO": "1", "ETS_PRIVATE_KEY": demo_account("oracle").key.hex(),
        "ETS_ORACLE_KEYSTORE_PASSWORD": PASSWORD, "ETS_ORACLE_ANCHOR_INTERVAL": "0.2",
    }  # fmt: skip
    gateway = _gateway_process(env, tmp_path / "site.json", queue_path, port)
    try:
        # the flow starts once the gateway listens and lasts ~15 s, so a loaded machine still
        # anchors the first 100 readings while frames are in flight
        _wait(lambda: _listening(port), 60, "the gateway")
        links = LinkSettings(ack_timeout=1.0, reconnect_delay=0.2, max_reconnect_delay=0.5)
        simulation = run_over_tcp(_controllers(site), "127.0.0.1", port, frames=FRAMES, interval=0.1,
                                  settings=links, start=False)  # fmt: skip
        with simulation:
            _wait(lambda: queue_path.exists() and _anchored_count(queue_path) > 100, 90, "first anchors")
            gateway.send_signal(signal.SIGKILL)  # mid-batch: frames, cuts and sends in flight
            gateway.wait(10)
            assert not simulation.done, "the flow ended before the kill"
            time.sleep(0.5)
            gateway = _gateway_process(env, tmp_path / "site.json", queue_path, port)
            _wait(lambda: _listening(port), 60, "the restarted gateway")
            assert simulation.join(timeout=120), "controllers did not finish"
            sent = simulation.stats()
        gateway.send_signal(signal.SIGTERM)  # a clean stop anchors what is left
        _, errors = gateway.communicate(timeout=60)
        assert gateway.returncode == 0, errors.decode()[-2000:]
    finally:
        if gateway.poll() is None:
            gateway.kill()
    assert all(s.answered == FRAMES and s.unanswered == 0 for s in sent.values())
    assert sum(s.reconnects for s in sent.values()) >= 1
    _assert_exactly_once(c, queue_path, site, FRAMES)
