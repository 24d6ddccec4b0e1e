"""The checksum variant per device: HJ 212-2017 Appendix A CRC or Modbus CRC-16 (issue 23, point 8)."""

from __future__ import annotations

import json
import os
import select
import time
import tty
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oracle.errors import FrameChecksumError, FrameCrcVariantError, GatewayConfigError
from oracle.gateway import Gateway, GatewayDevice
from oracle.hj212 import CN_MINUTE_DATA, CrcVariant, Frame, crc16, encode, modbus_crc16, parse
from oracle.queue import Queue
from oracle.service import SiteConfig
from oracle.simulator.controller import VirtualController
from oracle.simulator.profiles import SiteKind
from oracle.transport import SerialFrameReader, SerialSettings
from tests.utils.readings import DOMAIN, device_key, device_password

MN_H, MN_M = "33100000000001", "33100000000002"
ENTERPRISE = "0x00000000000000000000000000000000000000a1"
T0 = datetime(2027, 3, 1, 8, 0)
LATE = datetime(2028, 1, 1).timestamp()
VARIANTS: tuple[CrcVariant, ...] = ("hj212", "modbus")


def _modbus_reference(data: bytes) -> int:
    """CRC-16/MODBUS bit by bit: the byte enters the low end of the register."""
    reg = 0xFFFF
    for byte in data:
        reg ^= byte
        for _ in range(8):
            reg = (reg >> 1) ^ 0xA001 if reg & 1 else reg >> 1
    return reg


def minute(mn: str, n: int, crc: CrcVariant) -> str:
    return encode(
        qn=f"{T0 + timedelta(minutes=n):%Y%m%d%H%M%S}000", st="32", cn=CN_MINUTE_DATA, pw=device_password(mn),
        mn=mn, flag=5, datatime=T0 + timedelta(minutes=n),
        values={"w01018": {"Avg": f"{20 + n}.5", "Flag": "N"}}, crc=crc,
    )  # fmt: skip


# --- codec ----------------------------------------------------------------------------------


def test_modbus_crc16_gives_the_published_check_value() -> None:
    assert modbus_crc16(b"123456789") == 0x4B37 == _modbus_reference(b"123456789")
    assert modbus_crc16(b"") == 0xFFFF


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1200))
def test_modbus_crc16_equals_the_bitwise_algorithm(data: bytes) -> None:
    assert modbus_crc16(data) == _modbus_reference(data)


_text = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    mn=_text,
    pw=_text,
    value=st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False),
    variant=st.sampled_from(VARIANTS),
)
def test_build_parse_round_trips_and_the_other_variant_refuses(
    mn: str, pw: str, value: object, variant: CrcVariant
) -> None:
    wire = encode(st="32", cn="2011", pw=pw, mn=mn, qn="20270301080000000", flag=5,
                  values={"w01018": {"Rtd": str(value)}}, crc=variant)  # fmt: skip
    frame = parse(wire, crc=variant)
    assert frame.crc == variant
    assert frame.to_wire() == wire
    assert (frame.mn, frame.pw, frame.readings["w01018-Rtd"]) == (mn, pw, str(value))
    other: CrcVariant = "modbus" if variant == "hj212" else "hj212"
    segment = wire[6:-6].encode()
    if crc16(segment) == modbus_crc16(segment):
        # The rare coincidence (about 1 in 65,536 segments): the frame is intact under both;
        # the device's setting alone decides, and the frame is read as that variant.
        assert parse(wire, crc=other).crc == other
    else:
        refused = f"is the {variant} variant; this device sends {other}"
        with pytest.raises(FrameCrcVariantError, match=refused):
            parse(wire, crc=other)


def test_a_corrupt_frame_is_a_checksum_error_under_either_variant() -> None:
    wire = minute(MN_H, 1, "modbus")
    corrupt = wire.replace("21.5", "21.6")
    for variant in VARIANTS:
        with pytest.raises(FrameChecksumError) as caught:
            parse(corrupt, crc=variant)
        assert type(caught.value) is FrameChecksumError


def test_answers_to_a_modbus_frame_carry_a_modbus_crc() -> None:
    from oracle.hj212 import data_ack, execution_result

    frame = parse(minute(MN_M, 1, "modbus"), crc="modbus")
    for answer in (data_ack(frame), execution_result(frame)):
        assert parse(answer, crc="modbus").crc == "modbus"
        with pytest.raises(FrameCrcVariantError):
            parse(answer)


# --- gateway and transport ------------------------------------------------------------------


def gateway() -> Gateway:
    devices = [
        GatewayDevice(MN_H, ENTERPRISE, device_key(1), device_password(MN_H)),
        GatewayDevice(MN_M, ENTERPRISE, device_key(2), device_password(MN_M), crc="modbus"),
    ]
    return Gateway(devices, Queue(), DOMAIN, clock=lambda: LATE)


def test_gateway_refuses_a_frame_checked_under_the_other_variant_than_its_devices() -> None:
    gw = gateway()
    assert (gw.crc_of(MN_H), gw.crc_of(MN_M)) == ("hj212", "modbus")
    gw.authenticate(parse(minute(MN_M, 1, "modbus"), crc="modbus"))
    # a link that does not ask the gateway parses every frame as hj212: refused for MN_M
    with pytest.raises(FrameCrcVariantError, match="sends modbus CRCs"):
        gw.authenticate(replace(parse(minute(MN_M, 2, "modbus"), crc="modbus"), crc="hj212"))
    with pytest.raises(FrameCrcVariantError, match="sends hj212 CRCs"):
        gw.authenticate(parse(minute(MN_H, 3, "modbus"), crc="modbus"))
    assert gw.queue.unbatched() == []


@pytest.fixture
def pty() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    try:
        yield master, os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


def _read_frames(master: int, count: int, timeout: float = 2.0) -> list[bytes]:
    out = b""
    deadline = time.monotonic() + timeout
    while out.count(b"\r\n") < count:
        if not select.select([master], [], [], max(deadline - time.monotonic(), 0))[0]:
            break
        out += os.read(master, 4096)
    return [line + b"\r\n" for line in out.split(b"\r\n") if line]


def test_serial_link_parses_each_frame_under_its_devices_variant_and_answers_in_it(
    pty: tuple[int, str],
) -> None:
    master, path = pty
    gw = gateway()
    seen: list[Frame] = []

    def handle(frame: Frame) -> None:
        gw.handle(frame)
        seen.append(frame)

    reader = SerialFrameReader(
        SerialSettings(port=path, timeout=0.05), handle, authenticate=gw.authenticate, crc_of=gw.crc_of
    )
    with reader:
        os.write(master, minute(MN_M, 1, "hj212").encode())  # modbus device, hj212 CRC: refused
        os.write(master, minute(MN_H, 1, "modbus").encode())  # hj212 device, modbus CRC: refused
        os.write(master, minute(MN_M, 2, "modbus").encode())
        os.write(master, minute(MN_H, 2, "hj212").encode())
        answers = _read_frames(master, 2)
        stats = reader.stats.snapshot()
    assert stats.frames_bad == {"FrameCrcVariantError": 2}
    assert [(f.mn, f.crc) for f in seen] == [(MN_M, "modbus"), (MN_H, "hj212")]
    assert [parse(answers[0], crc="modbus").mn, parse(answers[1]).mn] == [MN_M, MN_H]
    assert {s.signed.reading.pollutant for s in gw.queue.unbatched()} == {"w01018"}


def test_a_simulated_controller_can_send_modbus_crcs() -> None:
    controller = VirtualController(MN_M, SiteKind.WASTEWATER, start=T0, seed=7, crc="modbus")
    for wire in controller.frames(3):
        assert parse(wire, crc="modbus").mn == MN_M
        with pytest.raises(FrameCrcVariantError):
            parse(wire)


def test_the_site_file_sets_each_devices_variant_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    entry = {"mn": MN_M, "enterprise": ENTERPRISE, "password": "pw-1", "keystore": "k.json"}
    path = tmp_path / "site.json"
    path.write_text(json.dumps({"devices": [entry | {"crc": "modbus"}, entry | {"mn": MN_H}]}))
    site = SiteConfig.load(path)
    assert [d.crc for d in site.devices] == ["modbus", "hj212"]
    path.write_text(json.dumps({"devices": [entry | {"crc": "xmodem"}]}))
    with pytest.raises(GatewayConfigError, match="crc"):
        SiteConfig.load(path)
