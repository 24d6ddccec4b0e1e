"""HJ 212 codec: parse, check and build HJ 212-2017 (and HJ/T 212-2005) frames and replies.

A frame on the wire is::

    ## LLLL <data segment> CCCC \\r\\n

``LLLL`` is the data segment's length in bytes (4 decimal digits), ``CCCC`` the CRC16 of the
data segment (4 hex digits, HJ 212-2017 Appendix A). The data segment is
``QN=..;ST=..;CN=..;PW=..;MN=..;Flag=..;[PNUM=..;PNO=..;]CP=&&<items>&&``, where the CP items
are ``code-Suffix=value`` (``w01018-Rtd=12.5``) or bare ``Key=value`` (``DataTime=...``,
``RtdInterval=30``), separated by ``;`` and ``,``.

Design choices:

* Readings are kept as the text the device sent: ``Frame.readings["w01018-Rtd"]`` in frame
  order, grouped as ``Frame.values["w01018"]["Rtd"]``. Numeric suffixes (``Rtd``, ``Avg``,
  ``Min``, ``Max``, ``Cou``, ``Zs*``) are checked to be decimal numbers at parse time, and
  :meth:`Frame.value` turns them into :class:`~decimal.Decimal`.
* Flag versions other than 2005 (0) and 2017 (1) are accepted as sent (``Frame.standard`` is
  then ``None``); no HJ 212-2025 specifics are implemented yet.
* Parsing is tuned for a gateway (about 50,000 frames/s on one core): a per-device memory of
  the CP layout, and whole-string fast paths checked against an item-by-item reference.
* ``DataTime`` is parsed into :attr:`Frame.datatime` (a naive datetime: HJ 212 times are the
  station's local time); other bare CP items go to :attr:`Frame.extras`.
* The HJ 212 CRC is a weak checksum (its state repeats every 8 bytes): it catches line noise,
  not tampering. Readings are protected by the device's signature, not by this CRC.
* ``PW`` (the access password) never appears in ``repr()``/``str()`` of a frame nor in the
  messages of the exceptions raised here.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import IntEnum, StrEnum
from functools import cached_property, lru_cache
from operator import methodcaller
from typing import Final, Literal

from oracle.errors import (
    FrameChecksumError,
    FrameCrcVariantError,
    FrameError,
    FrameLengthError,
    FrameMissingFieldError,
    FrameSyntaxError,
    FrameTooLargeError,
    FrameTruncatedError,
    FrameValueError,
    ReadingNotFoundError,
    ReassemblyError,
    ReassemblyLimitError,
)

__all__ = [
    "CN_CARD_SWIPE",
    "CN_DATA_ANSWER",
    "CN_DAY_DATA",
    "CN_EXECUTION_RESULT",
    "CN_HOUR_DATA",
    "CN_MINUTE_DATA",
    "CN_NOTIFY_ANSWER",
    "CN_REALTIME_DATA",
    "CN_REQUEST_ANSWER",
    "CN_VALVE_CONTROL",
    "CRC_VARIANTS",
    "DATA_FLAG_NAMES",
    "FLAG_ACK",
    "FLAG_PACKETS",
    "HISTORY_CNS",
    "HISTORY_REQUEST_FLAG",
    "LEGACY_CODES",
    "MAX_DATA_LEN",
    "MAX_DATA_LEN_FIELD",
    "MAX_PACKETS",
    "MAX_PENDING_BYTES",
    "NUMERIC_SUFFIXES",
    "POLLUTANTS",
    "ST_SYSTEM_INTERACTION",
    "VERSION_2005",
    "VERSION_2017",
    "CrcVariant",
    "DataFlag",
    "ExeRtn",
    "Frame",
    "FrameChecksumError",
    "FrameCrcVariantError",
    "FrameError",
    "FrameLengthError",
    "FrameMissingFieldError",
    "FrameScanner",
    "FrameSyntaxError",
    "FrameTooLargeError",
    "FrameTruncatedError",
    "FrameValueError",
    "Pollutant",
    "QnRtn",
    "ReadingNotFoundError",
    "Reassembler",
    "ReassemblyError",
    "crc16",
    "data_ack",
    "encode",
    "execution_result",
    "format_qn",
    "frame_crc",
    "history_request",
    "history_window",
    "is_history_request",
    "iter_frames",
    "modbus_crc16",
    "needs_ack",
    "notify_answer",
    "parse",
    "request_answer",
]

logger = logging.getLogger(__name__)

#: Largest data segment the standard allows (HJ 212-2017 §6.3.1: 0 ≤ length ≤ 1024).
MAX_DATA_LEN: Final = 1024
#: Largest data segment the 4-digit length field can announce (for lenient gateways).
MAX_DATA_LEN_FIELD: Final = 9999

#: Flag bit A: the sender waits for an answer (9014 for data, 9011/9012 for commands).
FLAG_ACK: Final = 0b01
#: Flag bit D: the frame carries PNUM/PNO (one packet of a split message).
FLAG_PACKETS: Final = 0b10
#: Version field (Flag bits V5..V0, i.e. ``flag >> 2``) of HJ/T 212-2005 frames.
VERSION_2005: Final = 0
#: Version field of HJ 212-2017 frames (``Flag=4`` .. ``Flag=7``).
VERSION_2017: Final = 1
_STANDARDS: Final = {VERSION_2005: "HJ/T 212-2005", VERSION_2017: "HJ 212-2017"}

#: System code ST of replies (system interaction).
ST_SYSTEM_INTERACTION: Final = "91"
#: Command codes CN used here (HJ 212-2017 table 9).
CN_REALTIME_DATA: Final = "2011"
CN_MINUTE_DATA: Final = "2051"
CN_HOUR_DATA: Final = "2061"
CN_DAY_DATA: Final = "2031"
CN_REQUEST_ANSWER: Final = "9011"
CN_EXECUTION_RESULT: Final = "9012"
CN_NOTIFY_ANSWER: Final = "9013"
CN_DATA_ANSWER: Final = "9014"
#: Card-swipe event upload of the pilot's total-amount controllers (``DataTime`` + ``CardId``).
#: Not in HJ 212 table 9, which has no card command: a site extension, configurable in the
#: gateway (``GatewaySettings.card_swipe_cn``).
CN_CARD_SWIPE: Final = "3097"
#: Valve control (reverse control) of the pilot's total-amount controllers: the platform sends
#: ``CP=&&ValveCmd=0&&`` (close) or ``ValveCmd=1`` (open) with Flag bit A; the controller answers
#: 9011 (``QnRtn``) and, once the valve has moved, 9012 (``ExeRtn``). Like the card swipe a site
#: extension (HJ 212-2017 table 9 has no valve command), next to it in the 3xxx range.
CN_VALVE_CONTROL: Final = "3098"

#: CP suffixes whose values must be decimal numbers.
NUMERIC_SUFFIXES: Final = frozenset(
    {"Rtd", "Avg", "Min", "Max", "Cou", "ZsRtd", "ZsAvg", "ZsMin", "ZsMax", "ZsCou"}
)
_HEADER_KEYS: Final = frozenset({"QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO"})
_REQUIRED_KEYS: Final = ("ST", "CN", "PW", "MN")


class DataFlag(StrEnum):
    """Data flag of a reading (``w01018-Flag=N``), HJ 212-2017 §6.6.4."""

    NORMAL = "N"
    STOPPED = "F"
    MAINTENANCE = "M"
    SET_VALUE = "S"
    FAULT = "D"
    CALIBRATION = "C"
    OVER_RANGE = "T"
    COMMUNICATION_ERROR = "B"


#: What each data flag means.
DATA_FLAG_NAMES: Final[Mapping[DataFlag, str]] = {
    DataFlag.NORMAL: "instrument working normally",
    DataFlag.STOPPED: "instrument stopped",
    DataFlag.MAINTENANCE: "data produced during maintenance",
    DataFlag.SET_VALUE: "manually entered set value",
    DataFlag.FAULT: "instrument fault",
    DataFlag.CALIBRATION: "instrument calibrating",
    DataFlag.OVER_RANGE: "sample above the measuring range",
    DataFlag.COMMUNICATION_ERROR: "communication between instrument and data unit abnormal",
}


class QnRtn(IntEnum):
    """Request answer codes (``QnRtn``, CN=9011), HJ 212-2017 table 7."""

    READY = 1
    REJECTED = 2
    PW_ERROR = 3
    MN_ERROR = 4
    ST_ERROR = 5
    FLAG_ERROR = 6
    QN_ERROR = 7
    CN_ERROR = 8
    CRC_ERROR = 9
    UNKNOWN_ERROR = 100


class ExeRtn(IntEnum):
    """Execution result codes (``ExeRtn``, CN=9012), HJ 212-2017 table 6."""

    SUCCESS = 1
    FAILED = 2
    COMMAND_ERROR = 3
    TIMEOUT = 5
    BUSY = 6
    SYSTEM_FAULT = 7
    NO_DATA = 100


@dataclass(frozen=True, slots=True)
class Pollutant:
    """A monitoring factor of HJ 212-2017 Appendix B.

    Attributes:
        code: HJ 212-2017 code (``w01018``).
        name: English name.
        name_zh: Chinese name as in the standard.
        unit: unit of concentrations and rates (``Rtd``/``Avg``/``Min``/``Max``).
        total_unit: unit of totals (``Cou``), ``None`` when the factor has no total.
        legacy_code: HJ/T 212-2005 code, ``None`` when it had none.
    """

    code: str
    name: str
    name_zh: str
    unit: str
    total_unit: str | None
    legacy_code: str | None


def _p(
    code: str, name: str, zh: str, unit: str, total: str | None, legacy: str | None = None
) -> tuple[str, Pollutant]:
    return code, Pollutant(code, name, zh, unit, total, legacy)


#: HJ 212-2017 monitoring factors by code (water ``w``, gas ``a``); cross-checked against the
#: standard's Appendix B as transcribed by public implementations (e.g. chenqi92/alltobs-hj212
#: ``enums/PollutionWater.java`` and ``enums/PollutionGas.java``).
POLLUTANTS: Final[Mapping[str, Pollutant]] = dict(
    [
        _p("w00000", "wastewater flow", "污水", "L/s", "m³", "B01"),
        _p("w01001", "pH", "pH值", "", None, "001"),
        _p("w01010", "water temperature", "水温", "°C", None),
        _p("w01012", "suspended solids", "悬浮物", "mg/L", "kg", "003"),
        _p("w01017", "BOD5", "五日生化需氧量", "mg/L", "kg", "010"),
        _p("w01018", "COD", "化学需氧量", "mg/L", "kg", "011"),
        _p("w01019", "permanganate index", "高锰酸盐指数", "mg/L", "kg"),
        _p("w01020", "TOC", "总有机碳", "mg/L", "kg", "015"),
        _p("w21001", "total nitrogen", "总氮", "mg/L", "kg", "065"),
        _p("w21003", "ammonia nitrogen (NH3-N)", "氨氮", "mg/L", "kg", "060"),
        _p("w21011", "total phosphorus", "总磷", "mg/L", "kg", "101"),
        _p("w21016", "cyanide", "氰化物", "mg/L", "kg", "070"),
        _p("w22001", "petroleum", "石油类", "mg/L", "kg", "080"),
        _p("w23002", "volatile phenol", "挥发酚", "mg/L", "kg", "110"),
        _p("a00000", "flue gas flow", "废气", "m³/s", "m³", "B02"),
        _p("a01001", "temperature", "温度", "°C", None),
        _p("a01002", "humidity", "湿度", "%", None),
        _p("a01006", "atmospheric pressure", "气压", "kPa", None),
        _p("a01007", "wind speed", "风速", "m/s", None),
        _p("a01008", "wind direction", "风向", "°", None),
        _p("a01011", "flue gas velocity", "烟气流速", "m/s", None, "S02"),
        _p("a01012", "flue gas temperature", "烟气温度", "°C", None, "S03"),
        _p("a01013", "flue gas pressure", "烟气压力", "kPa", None, "S08"),
        _p("a01014", "flue gas humidity", "烟气湿度", "%", None, "S05"),
        _p("a01016", "flue cross-section area", "烟道截面积", "m²", None, "S07"),
        _p("a01017", "flue gas dynamic pressure", "烟气动压", "kPa", None, "S04"),
        _p("a05001", "carbon dioxide (CO2)", "二氧化碳", "mg/m³", "kg", "30"),
        _p("a19001", "oxygen (O2)", "氧气含量", "%", None, "S01"),
        _p("a21002", "nitrogen oxides (NOx)", "氮氧化物", "mg/m³", "kg", "03"),
        _p("a21003", "nitric oxide (NO)", "一氧化氮", "mg/m³", "kg"),
        _p("a21004", "nitrogen dioxide (NO2)", "二氧化氮", "mg/m³", "kg"),
        _p("a21005", "carbon monoxide (CO)", "一氧化碳", "mg/m³", "kg", "04"),
        _p("a21024", "hydrogen chloride (HCl)", "氯化氢", "mg/m³", "kg", "08"),
        _p("a21026", "sulfur dioxide (SO2)", "二氧化硫", "mg/m³", "kg", "02"),
        _p("a21028", "hydrogen sulfide (H2S)", "硫化氢", "mg/m³", "kg", "05"),
        _p("a24088", "non-methane hydrocarbons", "非甲烷总烃", "mg/m³", "kg"),
        _p("a34013", "particulate matter (smoke dust)", "烟尘", "mg/m³", "kg", "01"),
    ]
)

#: HJ/T 212-2005 factor codes mapped to their HJ 212-2017 codes.
LEGACY_CODES: Final[Mapping[str, str]] = {
    p.legacy_code: p.code for p in POLLUTANTS.values() if p.legacy_code is not None
}


# --- CRC16 (HJ 212-2017 Appendix A) ---------------------------------------------------------


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        reg = i
        for _ in range(8):
            reg = (reg >> 1) ^ 0xA001 if reg & 1 else reg >> 1
        table.append(reg)
    return table


# The appendix's inner loop maps the register r to T[r & 0xFF] ^ (r >> 8), and each step
# starts from (r >> 8) ^ byte < 256, so a step is just r' = T[(r >> 8) ^ byte]: only the high
# byte h of the register carries over, h' = M(h ^ byte) with M = (T >> 8) linear over GF(2).
# M^8 is the identity, so the high byte after the first n-1 bytes depends only on the XOR of
# the bytes in each class of position mod 8 (counted from the end): fold the data as a big
# integer down to 64 bits, then apply M^(r+1) to byte r of the fold. Checked against the
# appendix's loop in the tests.
_CRC_T: Final = _crc_table()
_CRC_TH: Final = [t >> 8 for t in _CRC_T]


def _crc_powers() -> list[list[int]]:
    powers, current = [], list(range(256))
    for _ in range(8):
        current = [_CRC_TH[x] for x in current]
        powers.append(current)
    if powers[7] != list(range(256)):  # pragma: no cover - a property of the polynomial
        raise AssertionError("HJ 212 CRC high-byte map is not of order 8")
    return powers


_P1, _P2, _P3, _P4, _P5, _P6, _P7, _P8 = _crc_powers()
_CRC_FOLD_MAX_BYTES: Final = 16_384
_CRC_FOLDS: Final = tuple((64 << i, (1 << (64 << i)) - 1) for i in range(11, -1, -1))


def _crc16_reference(data: bytes) -> int:
    """CRC16 exactly as written in HJ 212-2017 Appendix A (slow; the tests' oracle)."""
    crc_reg = 0xFFFF
    for byte in data:
        crc_reg = (crc_reg >> 8) ^ byte
        for _ in range(8):
            check = crc_reg & 0x0001
            crc_reg >>= 1
            if check:
                crc_reg ^= 0xA001
    return crc_reg


def crc16(data: bytes) -> int:
    """HJ 212 CRC16 of ``data`` (the data segment only), as in HJ 212-2017 Appendix A.

    Not Modbus CRC16: each step is ``reg = (reg >> 8) ^ byte`` then 8 reflected shifts with
    polynomial 0xA001, starting from 0xFFFF. Written on the wire as 4 hex digits.

    Args:
        data: the bytes between the 4-digit length and the CRC.

    Returns:
        The 16-bit CRC.
    """
    n = len(data)
    if n < 2:
        return 0xFFFF if n == 0 else _CRC_T[0xFF ^ data[0]]
    if n > _CRC_FOLD_MAX_BYTES:
        h = 0xFF
        th = _CRC_TH
        for byte in data[:-1]:
            h = th[h ^ byte]
        return _CRC_T[h ^ data[-1]]
    d = int.from_bytes(data[:-1], "big") ^ (0xFF << (8 * (n - 2)))
    bits = d.bit_length()
    for shift, mask in _CRC_FOLDS:
        if bits > shift:
            d = (d >> shift) ^ (d & mask)
            bits = shift
    h = (
        _P1[d & 0xFF]
        ^ _P2[(d >> 8) & 0xFF]
        ^ _P3[(d >> 16) & 0xFF]
        ^ _P4[(d >> 24) & 0xFF]
        ^ _P5[(d >> 32) & 0xFF]
        ^ _P6[(d >> 40) & 0xFF]
        ^ _P7[(d >> 48) & 0xFF]
        ^ _P8[d >> 56]
    )
    return _CRC_T[h ^ data[-1]]


#: The checksum a device computes over the data segment: ``"hj212"`` (HJ 212-2017 Appendix A,
#: the default) or ``"modbus"`` (Modbus CRC-16, which many field devices send instead).
CrcVariant = Literal["hj212", "modbus"]
CRC_VARIANTS: Final[tuple[CrcVariant, ...]] = ("hj212", "modbus")


def _modbus_table() -> list[int]:
    table = []
    for byte in range(256):
        reg = byte
        for _ in range(8):
            reg = (reg >> 1) ^ 0xA001 if reg & 1 else reg >> 1
        table.append(reg)
    return table


_MODBUS_T: Final = _modbus_table()


def modbus_crc16(data: bytes) -> int:
    """Modbus CRC-16 of ``data``: reflected polynomial 0xA001, initial 0xFFFF, no final XOR.

    Each step is ``reg = (reg >> 8) ^ T[(reg ^ byte) & 0xFF]`` (the byte enters the *low*
    end of the register; HJ 212's Appendix A XORs it into ``reg >> 8`` instead). In an HJ 212
    frame the value is written like the Appendix A CRC: 4 upper-case hex digits of the 16-bit
    register, most significant digit first (``%04X``), not in Modbus RTU's low-byte-first wire
    order. ``modbus_crc16(b"123456789") == 0x4B37``.
    """
    reg = 0xFFFF
    table = _MODBUS_T
    for byte in data:
        reg = (reg >> 8) ^ table[(reg ^ byte) & 0xFF]
    return reg


def frame_crc(data: bytes, variant: CrcVariant = "hj212") -> int:
    """The checksum of a data segment under ``variant`` (:func:`crc16` or :func:`modbus_crc16`).

    Raises:
        FrameValueError: an unknown variant.
    """
    if variant == "hj212":
        return crc16(data)
    if variant == "modbus":
        return modbus_crc16(data)
    raise FrameValueError(f"unknown CRC variant {str(variant)[:20]!r}; use 'hj212' or 'modbus'")


# --- Frame ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """One HJ 212 frame's data segment, checked and split into fields.

    Build frames with :func:`parse` (which checks everything) or send them with
    :func:`encode`/:meth:`to_wire` (which check what they emit); the constructor itself does
    not validate. Treat the mappings as read-only.

    Attributes:
        qn: request id ``YYYYMMDDhhmmsszzz`` (absent in many HJ/T 212-2005 uploads).
        st: system code (``32`` water source, ``31`` air source, ``91`` system interaction).
        cn: command code (``2011`` real-time data, ``2051`` minute data ...).
        pw: access password; kept out of ``repr()``/``str()``, never log it.
        mn: device (monitoring point) code.
        flag: the Flag byte (version bits, D, A), ``None`` when the frame has no Flag.
        pnum: number of packets of a split message, ``None`` when not split.
        pno: this packet's number, 1-based, ``None`` when not split.
        datatime: the CP ``DataTime`` as a naive local datetime, ``None`` when absent.
        readings: CP readings in frame order, ``"code-Suffix"`` to the text sent
            (``{"w01018-Rtd": "12.5", "w01018-Flag": "N"}``); :attr:`values` groups them.
        extras: bare CP items other than ``DataTime`` (``RtdInterval``, ``QnRtn`` ...).
        crc: the checksum variant the frame was checked under (``"hj212"`` or ``"modbus"``).
    """

    st: str
    cn: str
    pw: str = field(repr=False)
    mn: str
    qn: str | None = None
    flag: int | None = None
    pnum: int | None = None
    pno: int | None = None
    datatime: datetime | None = None
    readings: dict[str, str] = field(default_factory=dict)
    extras: dict[str, str] = field(default_factory=dict)
    crc: CrcVariant = "hj212"

    @cached_property
    def values(self) -> dict[str, dict[str, str]]:
        """Readings grouped by factor code then suffix: ``values["w01018"]["Rtd"]``."""
        grouped: dict[str, dict[str, str]] = {}
        for key, value in self.readings.items():
            code, _, suffix = key.partition("-")
            items = grouped.get(code)
            if items is None:
                grouped[code] = {suffix: value}
            else:
                items[suffix] = value
        return grouped

    @property
    def is_split(self) -> bool:
        """Whether this frame is one packet of a split message (it has PNUM/PNO)."""
        return self.pnum is not None

    @property
    def needs_ack(self) -> bool:
        """Whether the sender waits for an answer (Flag bit A)."""
        return self.flag is not None and bool(self.flag & FLAG_ACK)

    @property
    def version(self) -> int:
        """Standard version field of Flag (``flag >> 2``); 0 (2005) when Flag is absent."""
        return 0 if self.flag is None else self.flag >> 2

    @property
    def standard(self) -> str | None:
        """Name of the standard the Flag's version bits announce, ``None`` if unknown."""
        return _STANDARDS.get(self.version)

    def value(self, code: str, suffix: str = "Rtd") -> Decimal:
        """A reading as a decimal number.

        Args:
            code: factor code (``w01018``).
            suffix: ``Rtd``, ``Avg``, ``Min``, ``Max``, ``Cou``, ``ZsRtd`` ...

        Returns:
            The value as sent, exactly.

        Raises:
            ReadingNotFoundError: the frame has no such code or suffix.
            FrameValueError: the value is not a number (e.g. a ``SampleTime``).
        """
        text = self.readings.get(f"{code}-{suffix}")
        if text is None:
            raise ReadingNotFoundError(f"no {code}-{suffix} in frame")
        if not _NUMBER.fullmatch(text):
            raise FrameValueError(f"{code}-{suffix}={text[:40]!r} is not a number")
        return Decimal(text)

    def flag_of(self, code: str) -> DataFlag | None:
        """The data flag of factor ``code`` (``code-Flag``), ``None`` when not sent.

        Raises:
            ReadingNotFoundError: the frame has no readings for ``code``.
            FrameValueError: the flag is not one of the standard's letters.
        """
        text = self.readings.get(f"{code}-Flag")
        if text is None:
            if code not in self.values:
                raise ReadingNotFoundError(f"no {code} in frame")
            return None
        try:
            return DataFlag(text)
        except ValueError:
            raise FrameValueError(f"{code}-Flag={text[:40]!r} is not a known data flag") from None

    def to_wire(self, *, max_data_len: int = MAX_DATA_LEN, encoding: str = "ascii") -> str:
        """This frame encoded as a complete wire frame (see :func:`encode`), with its CRC variant."""
        return encode(
            qn=self.qn,
            st=self.st,
            cn=self.cn,
            pw=self.pw,
            mn=self.mn,
            flag=self.flag,
            pnum=self.pnum,
            pno=self.pno,
            datatime=self.datatime,
            values=self.values,
            extras=self.extras,
            max_data_len=max_data_len,
            encoding=encoding,
            crc=self.crc,
        )


# --- parse ----------------------------------------------------------------------------------

_NUM: Final = r"[+-]?+(?:[0-9]++(?:\.[0-9]*+)?+|\.[0-9]++)"
_NUMBER: Final = re.compile(_NUM)
_NUMERIC_SUFFIX_RE: Final = "|".join(sorted(NUMERIC_SUFFIXES, key=len, reverse=True))
# A reading with a numeric suffix whose value is not a number (items joined by ';').
_BAD_NUMBER: Final = re.compile(rf"-(?:{_NUMERIC_SUFFIX_RE})=(?!{_NUM}(?:[;,]|\Z))")
_VALUE: Final = r"[^;,&=]*+"
_NOT_HEADER_SEPARATOR: Final = bytes(b for b in range(256) if b not in b";=")
# Reading keys joined by ';', each exactly one non-empty code, '-', non-empty suffix.
_READING_KEYS: Final = re.compile(r"[^;\-]++-[^;\-]++(?:;[^;\-]++-[^;\-]++)*+")
_SEPARATOR_MAP: Final = bytes.maketrans(b",", b";")
_NOT_SEPARATOR: Final = bytes(b for b in range(256) if b not in b";,=")
_HEX4: Final = re.compile(rb"[0-9A-Fa-f]{4}")
_SPLIT_EQ: Final = methodcaller("split", "=", 1)
# Bytes allowed in a data segment: everything but ASCII control characters.
_CONTROL: Final = bytes(range(0x20)) + b"\x7f"
_NOT_CONTROL: Final = bytes(b for b in range(256) if b not in _CONTROL)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


@lru_cache(maxsize=4096)
def _parse_datatime(text: str) -> datetime:
    # Cached: every device of a site reports the same minute, hour and day stamps.
    if _digits(text) and len(text) in (14, 17):
        try:
            return datetime(
                int(text[0:4]),
                int(text[4:6]),
                int(text[6:8]),
                int(text[8:10]),
                int(text[10:12]),
                int(text[12:14]),
                int(text[14:17]) * 1000 if len(text) == 17 else 0,
            )
        except ValueError:
            pass
    raise FrameValueError(f"DataTime={text[:40]!r} is not YYYYMMDDhhmmss[zzz]")


def _bounded_int(name: str, text: str, high: int) -> int:
    if not _digits(text) or len(text) > 5 or not 0 <= int(text) <= high:
        raise FrameValueError(f"{name}={text[:40]!r} is not an integer in 0..{high}")
    return int(text)


def parse(
    frame: str | bytes | bytearray | memoryview,
    *,
    max_data_len: int = MAX_DATA_LEN,
    encoding: str = "ascii",
    crc: CrcVariant = "hj212",
) -> Frame:
    """Parse and check one complete frame, ``##`` through CR LF.

    Checks, in order: header, length field, size limit, CR LF, declared vs actual length,
    CRC, then the data segment's fields and CP items.

    Args:
        frame: the frame as received (``str`` is encoded with ``encoding`` first).
        max_data_len: largest data segment accepted; the standard says 1024, the length field
            allows up to 9999 (:data:`MAX_DATA_LEN_FIELD`).
        encoding: text encoding of the data segment; HJ 212 is ASCII (``gbk`` for devices
            that send Chinese text).
        crc: the sending device's checksum variant, ``"hj212"`` (Appendix A) or ``"modbus"``
            (:func:`modbus_crc16`); a frame is only accepted under this one.

    Returns:
        The checked frame (:attr:`Frame.crc` records the variant).

    Raises:
        FrameSyntaxError: no ``##``, no CR LF, bad length or CRC field, control characters,
            malformed field or item, unknown or duplicate field.
        FrameTruncatedError: the frame ends before its declared length.
        FrameLengthError: the length field disagrees with the data segment received.
        FrameTooLargeError: the data segment is longer than ``max_data_len``.
        FrameChecksumError: the CRC does not match.
        FrameCrcVariantError: the CRC matches the other variant, not ``crc`` (a
            :class:`FrameChecksumError`).
        FrameMissingFieldError: ST, CN, PW, MN or CP is absent, or PNUM without PNO.
        FrameValueError: a bad number, DataTime, Flag, PNUM/PNO, ST, CN, QN or MN.
    """
    if isinstance(frame, str):
        try:
            raw = frame.encode(encoding)
        except UnicodeEncodeError:
            raise FrameSyntaxError(f"frame is not {encoding} text") from None
    else:
        raw = bytes(frame)
    n = len(raw)
    if raw[:2] != b"##":
        raise FrameSyntaxError("frame does not start with '##'")
    if n < 6:
        raise FrameTruncatedError(f"frame ends after {n} bytes, inside its header")
    length_field = raw[2:6]
    if not length_field.isdigit():
        raise FrameSyntaxError(f"length field {length_field!r} is not 4 decimal digits")
    declared = int(length_field)
    if declared > max_data_len:
        raise FrameTooLargeError(f"data segment of {declared} bytes exceeds {max_data_len}")
    if raw[-2:] != b"\r\n":
        if n < declared + 12:
            raise FrameTruncatedError(
                f"frame ends after {n} bytes; its length field announces {declared + 12}"
            )
        raise FrameSyntaxError("frame does not end with CR LF")
    if n - 12 != declared:
        raise FrameLengthError(f"length field says {declared}, data segment has {max(n - 12, 0)}")
    crc_field = raw[n - 6 : n - 2]
    if not _HEX4.fullmatch(crc_field):
        raise FrameSyntaxError(f"CRC field {crc_field!r} is not 4 hex digits")
    segment = raw[6 : n - 6]
    sent = int(crc_field, 16)
    computed = crc16(segment) if crc == "hj212" else frame_crc(segment, crc)
    if computed != sent:
        other: CrcVariant = "modbus" if crc == "hj212" else "hj212"
        if frame_crc(segment, other) == sent:
            raise FrameCrcVariantError(
                f"CRC {crc_field.decode()} is the {other} variant; this device sends {crc} CRCs"
                f" ({computed:04X})"
            )
        raise FrameChecksumError(f"CRC is {crc_field.decode()}, data segment gives {computed:04X}")
    if segment.translate(None, _NOT_CONTROL):
        raise FrameSyntaxError("data segment contains control characters")
    try:
        text = segment.decode(encoding)
    except UnicodeDecodeError:
        raise FrameSyntaxError(f"data segment is not {encoding} text") from None
    parsed = _parse_segment(text, segment if segment.isascii() else None)
    return parsed if crc == "hj212" else replace(parsed, crc=crc)


def _parse_segment(text: str, segment: bytes | None) -> Frame:
    cp_at = text.find("CP=&&")
    if cp_at < 0:
        if text.startswith("CP=") or ";CP=" in text:
            raise FrameSyntaxError("CP is not enclosed in '&&'")
        raise FrameMissingFieldError("frame has no CP field")
    if len(text) < cp_at + 7 or not text.endswith("&&"):
        raise FrameSyntaxError("CP is not closed with '&&'")
    head = text[:cp_at]
    if head and not head.endswith(";"):
        raise FrameSyntaxError("no ';' before CP")
    if "&" in head:
        raise FrameSyntaxError("header fields hold '&'")
    head_bytes = None if segment is None else segment[: cp_at - 1]
    fields = _parse_header(head[:-1], head_bytes) if head else {}
    for key in _REQUIRED_KEYS:
        if key not in fields:
            raise FrameMissingFieldError(f"frame has no {key} field")
    st, cn, mn = fields["ST"], fields["CN"], fields["MN"]
    if not _digits(st) or len(st) > 5:
        raise FrameValueError(f"ST={st[:40]!r} is not a system code")
    if not _digits(cn) or len(cn) > 7:
        raise FrameValueError(f"CN={cn[:40]!r} is not a command code")
    if not mn:
        raise FrameValueError("MN is empty")
    if not fields["PW"]:
        raise FrameValueError("PW is empty")
    qn = fields.get("QN")
    if qn is not None and (not _digits(qn) or len(qn) > 20):
        raise FrameValueError(f"QN={qn[:40]!r} is not a request id")
    flag_text = fields.get("Flag")
    flag = None if flag_text is None else _bounded_int("Flag", flag_text, 255)
    pnum_text, pno_text = fields.get("PNUM"), fields.get("PNO")
    pnum = pno = None
    if pnum_text is not None or pno_text is not None:
        if pnum_text is None or pno_text is None:
            raise FrameMissingFieldError("PNUM and PNO come together")
        pnum = _bounded_int("PNUM", pnum_text, 9999)
        pno = _bounded_int("PNO", pno_text, 9999)
        if not 1 <= pno <= pnum:
            raise FrameValueError(f"PNO={pno} is outside 1..PNUM={pnum}")
    cp_bytes = None if segment is None else segment[cp_at + 5 : -2]
    readings, extras, datatime = _parse_cp(text[cp_at + 5 : -2], cp_bytes, (mn, cn))
    return Frame(st, cn, fields["PW"], mn, qn, flag, pnum, pno, datatime, readings, extras)


def _parse_header(head: str, head_bytes: bytes | None) -> dict[str, str]:
    if head_bytes is not None:
        # Fast path: every field exactly one KEY=value (so values hold no '=').
        separators = head_bytes.translate(None, _NOT_HEADER_SEPARATOR)
        count = len(separators) // 2 + 1
        if separators == b"=;" * (count - 1) + b"=":
            pairs = head.replace("=", ";").split(";")
            fast = dict(zip(pairs[0::2], pairs[1::2], strict=True))
            if len(fast) == count and fast.keys() <= _HEADER_KEYS:
                return fast
    parts = head.split(";")
    try:
        fields: dict[str, str] = dict(map(_SPLIT_EQ, parts))
    except ValueError:
        # Never echo the text: it may hold the password.
        position = next(i for i, part in enumerate(parts, 1) if "=" not in part)
        raise FrameSyntaxError(f"header field #{position} is not KEY=value") from None
    if any("=" in value for value in fields.values()):
        position = next(i for i, part in enumerate(parts, 1) if part.count("=") > 1)
        raise FrameSyntaxError(f"header field #{position} holds more than one '='")
    if len(fields) != len(parts):
        keys = [part.partition("=")[0] for part in parts]
        twice = next(key for i, key in enumerate(keys) if key in keys[:i])
        raise FrameSyntaxError(f"duplicate header field {twice[:16]!r}")
    unknown = fields.keys() - _HEADER_KEYS
    if unknown:
        raise FrameSyntaxError(f"unknown header field {min(unknown)[:16]!r}")
    return fields


@dataclass(frozen=True, slots=True)
class _Shape:
    """The exact item layout a device last sent for a command: its keys, in order."""

    pattern: re.Pattern[str]
    keys: tuple[str, ...]


# Layouts by (MN, CN), oldest dropped first; bounded because MN comes from the wire.
_SHAPES: dict[tuple[str, str], _Shape] = {}
_SHAPES_MAX: Final = 1024


def _remember_shape(key: tuple[str, str], cp: str) -> None:
    # Called only for a CP the fast path accepted: unique keys, one '=' per item.
    pieces = re.split(r"([;,])", cp)
    pattern, keys = [], []
    for item, separator in zip(pieces[0::2], [*pieces[1::2], ""], strict=True):
        name = item.partition("=")[0]
        numeric = name.partition("-")[2] in NUMERIC_SUFFIXES
        pattern.append(f"{re.escape(name)}=({_NUM if numeric else _VALUE}){re.escape(separator)}")
        keys.append(name)
    if len(_SHAPES) >= _SHAPES_MAX:
        with suppress(StopIteration, KeyError, RuntimeError):  # another thread got there
            del _SHAPES[next(iter(_SHAPES))]
    _SHAPES[key] = _Shape(re.compile("".join(pattern)), tuple(keys))


def _parse_cp(
    cp: str, cp_bytes: bytes | None, shape_key: tuple[str, str]
) -> tuple[dict[str, str], dict[str, str], datetime | None]:
    """Split CP into readings, extras and DataTime.

    Two fast paths handle the usual shape (every item one ``code-Suffix=value``, plus
    ``DataTime``): a compiled pattern of the layout this device (MN) last sent for this
    command (CN), then a few whole-string operations. Anything else, defects included, goes
    to :func:`_parse_cp_slow`, the item-by-item reference that names the first defect.
    """
    if not cp:
        return {}, {}, None
    if cp_bytes is None or b"&" in cp_bytes:
        return _parse_cp_slow(cp)
    if cp[-1] in ";,":
        cp, cp_bytes = cp[:-1], cp_bytes[:-1]
    shape = _SHAPES.get(shape_key)
    if shape is not None:
        match = shape.pattern.fullmatch(cp)
        if match is not None:
            readings = dict(zip(shape.keys, match.groups(), strict=True))
            datatime_text = readings.pop("DataTime", None)
            datatime = None if datatime_text is None else _parse_datatime(datatime_text)
            return readings, {}, datatime
    separators = cp_bytes.translate(_SEPARATOR_MAP, _NOT_SEPARATOR)
    pairs = len(separators) // 2 + 1
    if separators != b"=;" * (pairs - 1) + b"=" or _BAD_NUMBER.search(cp):
        return _parse_cp_slow(cp)
    # Now every item holds exactly one '=' and no item is empty.
    parts = cp.replace(",", ";").replace("=", ";").split(";")
    readings = dict(zip(parts[0::2], parts[1::2], strict=True))
    if len(readings) != pairs or "" in readings:
        return _parse_cp_slow(cp)  # a duplicate or an empty key: let the slow path name it
    datatime_text = readings.pop("DataTime", None)
    if readings and not _READING_KEYS.fullmatch(";".join(readings)):
        return _parse_cp_slow(cp)  # bare items besides DataTime, or not one code-Suffix
    datatime = None if datatime_text is None else _parse_datatime(datatime_text)
    _remember_shape(shape_key, cp)
    return readings, {}, datatime


def _parse_cp_slow(cp: str) -> tuple[dict[str, str], dict[str, str], datetime | None]:
    """Split CP item by item; names the first defect (the reference for the fast path)."""
    if "&" in cp:
        raise FrameSyntaxError("CP items contain '&'")
    readings: dict[str, str] = {}
    extras: dict[str, str] = {}
    datatime = None
    for item in cp.replace(",", ";").split(";"):
        if not item:
            continue  # tolerated: devices send a trailing ';' before '&&'
        key, sep, value = item.partition("=")
        if not sep or not key or "=" in value:
            raise FrameSyntaxError(f"CP item {item[:40]!r} is not KEY=value")
        code, dash, suffix = key.partition("-")
        if dash:
            if not code or not suffix:
                raise FrameSyntaxError(f"CP key {key[:40]!r} is not code-Suffix")
            if key in readings:
                raise FrameSyntaxError(f"duplicate CP item {key[:40]}")
            if suffix in NUMERIC_SUFFIXES and not _NUMBER.fullmatch(value):
                raise FrameValueError(f"{key[:40]}={value[:40]!r} is not a number")
            readings[key] = value
        elif key == "DataTime":
            if datatime is not None:
                raise FrameSyntaxError("duplicate CP item DataTime")
            datatime = _parse_datatime(value)
        elif key in extras:
            raise FrameSyntaxError(f"duplicate CP item {key[:40]}")
        else:
            extras[key] = value
    return readings, extras, datatime


# --- encode ---------------------------------------------------------------------------------

_HEADER_FORBIDDEN: Final = re.compile(r"[;=&\x00-\x1f\x7f]")
_CP_FORBIDDEN: Final = re.compile(r"[;,=&\x00-\x1f\x7f]")


def _field(name: str, text: str) -> str:
    if not text or _HEADER_FORBIDDEN.search(text):
        shown = "***" if name == "PW" else repr(text[:40])
        raise FrameSyntaxError(f"{name}={shown} is empty or holds ';', '=', '&' or controls")
    return text


def _item(name: str, text: str, *, allow_empty: bool = False) -> str:
    if (not text and not allow_empty) or _CP_FORBIDDEN.search(text):
        raise FrameSyntaxError(f"CP {name} {text[:40]!r} is empty or holds ';', ',', '=', '&'")
    return text


def _format_datatime(when: datetime) -> str:
    if when.tzinfo is not None:
        raise FrameValueError("DataTime must be a naive datetime in the station's local time")
    if when.microsecond % 1000:
        raise FrameValueError("DataTime carries at most milliseconds")
    text = f"{when.year:04d}{when:%m%d%H%M%S}"
    if when.microsecond:
        text += f"{when.microsecond // 1000:03d}"
    return text


def _text(value: str | int | Decimal) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def encode(
    *,
    st: str,
    cn: str,
    pw: str,
    mn: str,
    qn: str | None = None,
    flag: int | None = None,
    pnum: int | None = None,
    pno: int | None = None,
    datatime: datetime | None = None,
    values: Mapping[str, Mapping[str, str | int | Decimal]] | None = None,
    extras: Mapping[str, str | int | Decimal] | None = None,
    max_data_len: int = MAX_DATA_LEN,
    encoding: str = "ascii",
    crc: CrcVariant = "hj212",
) -> str:
    """Build a complete frame, ``##`` + length + data segment + CRC + CR LF.

    Fields go in the standard's order (QN, ST, CN, PW, MN, Flag, PNUM, PNO, CP); in CP,
    ``DataTime`` first, then ``extras``, then each factor's items joined by ``,``. The result
    is parsed back before it is returned, so ``encode`` never emits a frame :func:`parse`
    would refuse.

    Args:
        st: system code.
        cn: command code.
        pw: access password.
        mn: device code.
        qn: request id, omitted when ``None``.
        flag: Flag byte, omitted when ``None``.
        pnum: packet count of a split message (with ``pno``).
        pno: packet number, 1-based (with ``pnum``).
        datatime: CP ``DataTime`` (naive local time), omitted when ``None``.
        values: readings by factor code then suffix (``{"w01018": {"Rtd": "12.5"}}``).
        extras: bare CP items (``{"RtdInterval": 30}``).
        max_data_len: largest data segment allowed.
        encoding: text encoding of the data segment.
        crc: the checksum variant to write (``"hj212"`` or ``"modbus"``).

    Returns:
        The frame as text, ending in CR LF.

    Raises:
        FrameSyntaxError: a field or value is empty or contains a separator.
        FrameValueError: a bad number, DataTime, Flag or PNUM/PNO.
        FrameMissingFieldError: only one of ``pnum`` and ``pno`` is given.
        FrameTooLargeError: the data segment would exceed ``max_data_len``.
    """
    parts = [] if qn is None else [f"QN={_field('QN', qn)}"]
    parts += [f"ST={_field('ST', st)}", f"CN={_field('CN', cn)}"]
    parts += [f"PW={_field('PW', pw)}", f"MN={_field('MN', mn)}"]
    if flag is not None:
        parts.append(f"Flag={flag}")
    if pnum is not None or pno is not None:
        if pnum is None or pno is None:
            raise FrameMissingFieldError("PNUM and PNO come together")
        parts += [f"PNUM={pnum}", f"PNO={pno}"]
    items = [] if datatime is None else [f"DataTime={_format_datatime(datatime)}"]
    for key, value in (extras or {}).items():
        if key == "DataTime" or "-" in key:
            raise FrameSyntaxError(f"extra CP key {key[:40]!r} is reserved or holds '-'")
        items.append(f"{_item('key', key)}={_item('value', _text(value), allow_empty=True)}")
    for code, readings in (values or {}).items():
        if not readings or "-" in code:
            raise FrameSyntaxError(f"factor {code[:40]!r} has no readings or holds '-'")
        items.append(
            ",".join(
                f"{_item('code', code)}-{_item('suffix', suffix)}="
                f"{_item('value', _text(value), allow_empty=True)}"
                for suffix, value in readings.items()
            )
        )
    parts.append(f"CP=&&{';'.join(items)}&&")
    try:
        segment = ";".join(parts).encode(encoding)
    except UnicodeEncodeError:
        raise FrameSyntaxError(f"frame is not {encoding} text") from None
    if len(segment) > min(max_data_len, MAX_DATA_LEN_FIELD):
        raise FrameTooLargeError(f"data segment of {len(segment)} bytes exceeds {max_data_len}")
    wire = f"##{len(segment):04d}{segment.decode(encoding)}{frame_crc(segment, crc):04X}\r\n"
    parse(wire, max_data_len=max_data_len, encoding=encoding, crc=crc)
    return wire


# --- replies --------------------------------------------------------------------------------


def needs_ack(frame: Frame) -> bool:
    """Whether ``frame``'s sender waits for an answer (Flag bit A set)."""
    return frame.needs_ack


def _reply(frame: Frame, cn: str, cp: dict[str, str | int | Decimal]) -> str:
    if frame.qn is None:
        raise FrameMissingFieldError("cannot answer a frame without QN")
    # Same version bits as the request; A and D cleared. No Flag if the request had none.
    flag = None if frame.flag is None else frame.flag & ~(FLAG_ACK | FLAG_PACKETS)
    return encode(
        qn=frame.qn,
        st=ST_SYSTEM_INTERACTION,
        cn=cn,
        pw=frame.pw,
        mn=frame.mn,
        flag=flag,
        extras=cp,
        crc=frame.crc,
    )


def data_ack(frame: Frame) -> str:
    """Data answer (CN=9014) to an upload whose Flag asked for one.

    Raises:
        FrameMissingFieldError: the frame has no QN to answer.
    """
    return _reply(frame, CN_DATA_ANSWER, {})


def request_answer(frame: Frame, qn_rtn: int = QnRtn.READY) -> str:
    """Request answer (CN=9011, ``QnRtn``) to a command.

    Raises:
        FrameMissingFieldError: the frame has no QN to answer.
    """
    return _reply(frame, CN_REQUEST_ANSWER, {"QnRtn": int(qn_rtn)})


def execution_result(frame: Frame, exe_rtn: int = ExeRtn.SUCCESS) -> str:
    """Execution result (CN=9012, ``ExeRtn``) of a command.

    Raises:
        FrameMissingFieldError: the frame has no QN to answer.
    """
    return _reply(frame, CN_EXECUTION_RESULT, {"ExeRtn": int(exe_rtn)})


def notify_answer(frame: Frame) -> str:
    """Notification answer (CN=9013) to a notification.

    Raises:
        FrameMissingFieldError: the frame has no QN to answer.
    """
    return _reply(frame, CN_NOTIFY_ANSWER, {})


# --- history requests (back-fill) -----------------------------------------------------------

#: Data commands a history request may name (HJ 212-2017 table 9: minute, hourly, daily data).
HISTORY_CNS: Final = frozenset({CN_MINUTE_DATA, CN_HOUR_DATA, CN_DAY_DATA})
#: Flag of a history request: HJ 212-2017 version bits and bit A (the data unit answers 9011
#: first, then uploads the stored frames under the request's QN, then sends 9012).
HISTORY_REQUEST_FLAG: Final = (VERSION_2017 << 2) | FLAG_ACK


def format_qn(when: datetime) -> str:
    """A request number ``YYYYMMDDhhmmsszzz`` for ``when`` (naive local time, milliseconds)."""
    return f"{when:%Y%m%d%H%M%S}{when.microsecond // 1000:03d}"


def history_request(
    *,
    st: str,
    cn: str,
    pw: str,
    mn: str,
    qn: str,
    begin: datetime,
    end: datetime,
    flag: int = HISTORY_REQUEST_FLAG,
    crc: CrcVariant = "hj212",
) -> str:
    """A platform's request for a data unit's stored data (e.g. CN=2051 minute data).

    ``QN=<qn>;ST=<st>;CN=<cn>;PW=..;MN=..;Flag=5;CP=&&BeginTime=..;EndTime=..&&``. The data
    unit answers with a request answer (CN=9011, ``QnRtn``), uploads every stored frame of the
    window with CN=``cn`` and the request's QN (each answered with 9014 when its Flag asks),
    then closes with an execution result (CN=9012, ``ExeRtn``; 100: no data).

    Raises:
        FrameValueError: ``cn`` is not minute, hourly or daily data, or ``end`` is before
            ``begin``, or a time is not naive.
    """
    if cn not in HISTORY_CNS:
        raise FrameValueError(f"CN={cn[:40]!r} is not a history data command")
    if end < begin:
        raise FrameValueError("EndTime is before BeginTime")
    window = {"BeginTime": _format_datatime(begin), "EndTime": _format_datatime(end)}
    return encode(qn=qn, st=st, cn=cn, pw=pw, mn=mn, flag=flag, extras=window, crc=crc)


def is_history_request(frame: Frame) -> bool:
    """Whether ``frame`` asks for stored data: a history command with BeginTime and no DataTime."""
    return (
        frame.cn in HISTORY_CNS
        and frame.st != ST_SYSTEM_INTERACTION
        and frame.datatime is None
        and "BeginTime" in frame.extras
    )


def history_window(frame: Frame) -> tuple[datetime, datetime]:
    """The (BeginTime, EndTime) a history request asks for, both inclusive.

    Raises:
        FrameMissingFieldError: the request has no BeginTime or no EndTime.
        FrameValueError: a time is not ``YYYYMMDDhhmmss[zzz]``, or EndTime is before BeginTime.
    """
    begin_text = frame.extras.get("BeginTime")
    end_text = frame.extras.get("EndTime")
    if begin_text is None or end_text is None:
        raise FrameMissingFieldError("a history request needs BeginTime and EndTime")
    begin, end = _parse_datatime(begin_text), _parse_datatime(end_text)
    if end < begin:
        raise FrameValueError("EndTime is before BeginTime")
    return begin, end


# --- packet-split messages ------------------------------------------------------------------


@dataclass(slots=True)
class _Pending:
    pnum: int
    first_seen: float
    parts: dict[int, Frame]
    size: int = 0


#: Most packets a split message may announce (PNUM); the standard allows 9999.
MAX_PACKETS: Final = 64
#: Most bytes of incomplete split messages one link (one :class:`Reassembler`) holds.
MAX_PENDING_BYTES: Final = 256 * 1024


#: Heap bytes of a held packet beyond its text: the frame object, and per CP item its dict
#: slot and two string objects (CPython 3.11, 64-bit), so the limit bounds memory, not text.
_FRAME_OVERHEAD: Final = 1024
_ITEM_OVERHEAD: Final = 160


def _held_bytes(frame: Frame) -> int:
    """Heap bytes a packet holds while it waits for the rest of its message (an estimate)."""
    size = (
        _FRAME_OVERHEAD + len(frame.st) + len(frame.cn) + len(frame.pw) + len(frame.mn) + len(frame.qn or "")
    )
    for mapping in (frame.readings, frame.extras):
        for key, value in mapping.items():
            size += len(key) + len(value) + _ITEM_OVERHEAD
    return size


class Reassembler:
    """Joins the packets of split messages (PNUM/PNO, same MN, CN and QN) into one frame.

    Unsplit frames pass straight through. Incomplete messages are dropped (and logged) after
    ``timeout`` seconds or when more than ``max_pending`` are waiting, oldest first. What one
    reassembler holds is bounded: a message announcing more than ``max_packets`` packets is
    refused, and a packet that would take the incomplete messages beyond ``max_pending_bytes``
    is refused and every incomplete message dropped (:class:`ReassemblyLimitError`), so a peer
    cannot make the gateway hold more than that per link.

    Args:
        timeout: seconds an incomplete message may wait for its missing packets.
        max_pending: most incomplete messages kept at once.
        max_packets: most packets of one split message (PNUM).
        max_pending_bytes: most bytes of incomplete messages kept at once.
        clock: monotonic clock in seconds (injectable for tests).
    """

    def __init__(
        self,
        *,
        timeout: float = 600.0,
        max_pending: int = 256,
        max_packets: int = MAX_PACKETS,
        max_pending_bytes: int = MAX_PENDING_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._timeout = timeout
        self._max_pending = max_pending
        self._max_packets = max_packets
        self._max_pending_bytes = max_pending_bytes
        self._clock = clock
        self._pending: dict[tuple[str, str, str], _Pending] = {}
        self._bytes = 0

    @property
    def pending(self) -> int:
        """Number of incomplete messages waiting for packets."""
        return len(self._pending)

    @property
    def pending_bytes(self) -> int:
        """Bytes held by incomplete messages (at most ``max_pending_bytes``)."""
        return self._bytes

    def add(self, frame: Frame) -> Frame | None:
        """Take one frame; return the whole message once its last missing packet arrives.

        Args:
            frame: a parsed frame, split or not.

        Returns:
            The joined frame (PNUM/PNO cleared, Flag bit D cleared) when complete, ``frame``
            itself when it is not split, ``None`` while packets are missing or for a repeat.

        Raises:
            FrameMissingFieldError: a split frame has no QN.
            ReassemblyError: a packet conflicts with one already received (other PNUM, same
                PNO with other content, the same reading twice, other DataTime).
            ReassemblyLimitError: the message announces more than ``max_packets`` packets
                (nothing kept), or the packet would take the incomplete messages beyond
                ``max_pending_bytes`` (every incomplete message is dropped).
        """
        if frame.pnum is None or frame.pno is None:
            return frame
        if frame.qn is None:
            raise FrameMissingFieldError("split frame has no QN to join its packets by")
        if frame.pnum > self._max_packets:
            raise ReassemblyLimitError(
                f"split message of {frame.pnum} packets; at most {self._max_packets} are joined"
            )
        now = self._clock()
        self._expire(now)
        key = (frame.mn, frame.cn, frame.qn)
        entry = self._pending.get(key)
        if entry is None:
            entry = _Pending(frame.pnum, now, {})
        elif entry.pnum != frame.pnum:
            raise ReassemblyError(f"PNUM changed from {entry.pnum} to {frame.pnum} (QN={frame.qn})")
        seen = entry.parts.get(frame.pno)
        if seen is not None:
            if seen != frame:
                raise ReassemblyError(f"packet {frame.pno} sent twice with other content")
            return None
        if len(entry.parts) + 1 == entry.pnum:  # completes its message: joined, not held
            self._forget(key)
            entry.parts[frame.pno] = frame
            return _join([entry.parts[i] for i in range(1, entry.pnum + 1)])
        size = _held_bytes(frame)
        if self._bytes + size > self._max_pending_bytes:
            held, dropped = self._bytes, len(self._pending)
            self._pending.clear()
            self._bytes = 0
            raise ReassemblyLimitError(
                f"incomplete split messages would hold more than {self._max_pending_bytes} bytes"
                f" ({held} held, {size} more); all {dropped} dropped"
            )
        entry.parts[frame.pno] = frame
        entry.size += size
        self._bytes += size
        self._pending[key] = entry
        self._evict_overflow()
        return None

    def _expire(self, now: float) -> None:
        for key, entry in list(self._pending.items()):
            if now - entry.first_seen > self._timeout:
                self._drop(key, "timed out")

    def _evict_overflow(self) -> None:
        while len(self._pending) > self._max_pending:
            self._drop(next(iter(self._pending)), "too many incomplete messages")

    def _forget(self, key: tuple[str, str, str]) -> _Pending | None:
        entry = self._pending.pop(key, None)
        if entry is not None:
            self._bytes -= entry.size
        return entry

    def _drop(self, key: tuple[str, str, str], why: str) -> None:
        entry = self._forget(key)
        if entry is None:
            return
        missing = sorted(set(range(1, entry.pnum + 1)) - entry.parts.keys())
        logger.warning(
            "dropping incomplete split message: %s",
            why,
            extra={"device": key[0], "cn": key[1], "qn": key[2], "missing": missing[:16]},
        )


def _join(parts: list[Frame]) -> Frame:
    first = parts[0]
    readings: dict[str, str] = {}
    extras: dict[str, str] = {}
    datatime = None
    for part in parts:
        if part.datatime is not None:
            if datatime is not None and part.datatime != datatime:
                raise ReassemblyError(f"packets disagree on DataTime (QN={first.qn})")
            datatime = part.datatime
        for key, value in part.extras.items():
            if extras.setdefault(key, value) != value:
                raise ReassemblyError(f"packets disagree on {key} (QN={first.qn})")
        for key, value in part.readings.items():
            if key in readings:
                raise ReassemblyError(f"{key} sent in two packets (QN={first.qn})")
            readings[key] = value
    flag = None if first.flag is None else first.flag & ~FLAG_PACKETS
    return replace(
        first,
        flag=flag,
        pnum=None,
        pno=None,
        datatime=datatime,
        readings=readings,
        extras=extras,
    )


# --- byte streams ---------------------------------------------------------------------------


def iter_frames(buffer: bytearray, *, max_data_len: int = MAX_DATA_LEN) -> Iterator[bytes | FrameError]:
    """Pull complete frames out of a receive buffer, resynchronising on garbage.

    Consumed bytes are deleted from ``buffer``; an incomplete frame at its end stays there
    for the next call. Frames are only cut out here (header, length, CR LF); :func:`parse`
    checks their CRC and content.

    Args:
        buffer: bytes received so far from a serial line or socket; modified in place.
        max_data_len: largest data segment accepted.

    Yields:
        Each complete frame's bytes, or a :class:`FrameError` describing bytes skipped:
        garbage before ``##`` (:class:`FrameSyntaxError`), a bad length field, a frame cut
        short by a new line (:class:`FrameTruncatedError`), an oversized frame
        (:class:`FrameTooLargeError`), no CR LF where the length says
        (:class:`FrameLengthError`).
    """
    while True:
        start = buffer.find(b"##")
        if start < 0:
            skip = len(buffer) - (1 if buffer.endswith(b"#") else 0)
            if skip:
                del buffer[:skip]
                yield FrameSyntaxError(f"skipped {skip} bytes without '##'")
            return
        if start:
            del buffer[:start]
            yield FrameSyntaxError(f"skipped {start} bytes before '##'")
        if len(buffer) < 6:
            return
        length_field = bytes(buffer[2:6])
        if not length_field.isdigit():
            _skip_to_next_header(buffer)
            yield FrameSyntaxError(f"length field {length_field!r} is not 4 decimal digits")
            continue
        declared = int(length_field)
        if declared > max_data_len:
            _skip_to_next_header(buffer)
            yield FrameTooLargeError(f"data segment of {declared} bytes exceeds {max_data_len}")
            continue
        total = declared + 12
        early = buffer.find(b"\r\n", 6, total - 1)
        if early >= 0:
            del buffer[: early + 2]
            yield FrameTruncatedError(f"line ended after {early + 2} of {total} bytes")
            continue
        if len(buffer) < total:
            return
        if buffer[total - 2 : total] != b"\r\n":
            _skip_to_next_header(buffer)
            yield FrameLengthError(f"no CR LF after the {declared} bytes the length announces")
            continue
        frame = bytes(buffer[:total])
        del buffer[:total]
        yield frame


def _skip_to_next_header(buffer: bytearray) -> None:
    # Drop a bad frame start up to the next '##' (which may overlap it: '###0101...').
    following = buffer.find(b"##", 1)
    if following < 0:
        following = len(buffer) - (1 if buffer.endswith(b"#") else 0)
    del buffer[:following]


class FrameScanner:
    """Stateful wrapper of :func:`iter_frames` for a serial or TCP transport.

    Args:
        max_data_len: largest data segment accepted.
    """

    def __init__(self, *, max_data_len: int = MAX_DATA_LEN) -> None:
        self._buffer = bytearray()
        self._max_data_len = max_data_len

    @property
    def buffered(self) -> int:
        """Bytes held back, waiting for the rest of a frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes | FrameError]:
        """Add received bytes; return the frames (and skipped-byte errors) now complete."""
        self._buffer += data
        return list(iter_frames(self._buffer, max_data_len=self._max_data_len))
