"""Tests of the HJ 212 codec: CRC, parse, encode, replies, split packets, stream scanning."""

from __future__ import annotations

import contextlib
import string
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import EtsError
from oracle.errors import OracleError, ReassemblyLimitError
from oracle.hj212 import (
    DATA_FLAG_NAMES,
    LEGACY_CODES,
    MAX_DATA_LEN,
    MAX_DATA_LEN_FIELD,
    POLLUTANTS,
    VERSION_2005,
    VERSION_2017,
    DataFlag,
    ExeRtn,
    Frame,
    FrameChecksumError,
    FrameError,
    FrameLengthError,
    FrameMissingFieldError,
    FrameScanner,
    FrameSyntaxError,
    FrameTooLargeError,
    FrameTruncatedError,
    FrameValueError,
    QnRtn,
    ReadingNotFoundError,
    Reassembler,
    ReassemblyError,
    _crc16_reference,
    _parse_cp,
    _parse_cp_slow,
    crc16,
    data_ack,
    encode,
    execution_result,
    iter_frames,
    needs_ack,
    notify_answer,
    parse,
    request_answer,
)

# --- published frames (known-answer vectors) ------------------------------------------------
# Each was checked by hand against the appendix algorithm before being written down here.

# HJ 212-2017 Appendix C's own example (the standard's text, quoted e.g. in the thread
# https://whycan.com/viewtopic.php?id=3594 and in many HJ 212 libraries' tests).
ANNEX_C_EXAMPLE = (
    "##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
    "Flag=5;CP=&&RtdInterval=30&&1C80\r\n"
)
# xiaoyao9184/hj-t212-parser, hj-t212-parser/src/test/java/com/xy/format/hbt212/core/
# T212ParserTest.java: an HJ/T 212-2005 upload (no QN, no Flag, DataTime with milliseconds,
# 2005 factor codes B01/011/060).
HJT212_2005_UPLOAD = (
    "##0139ST=32;CN=2011;PW=123456;MN=LD130133000015;CP=&&DataTime=20160824003817000;"
    "B01-Rtd=36.91;011-Rtd=231.0,011-Flag=N;060-Rtd=1.803,060-Flag=N&&4980\r\n"
)
# guocay/hj212-protocol, protocol/src/test/java/com/github/guocay/hj212/ApplicationTest.java,
# SAMPLE[0]: real-time air data, lowercase CRC.
GUOCAY_SAMPLE_0 = (
    "##0317QN=20191012133710130;ST=22;CN=2011;PW=123456;MN=Y80110010000010;Flag=4;"
    "CP=&&DataTime=20191012133710;a21005-Rtd=0.00,a21005-Flag=N;a21004-Rtd=0.00,"
    "a21004-Flag=N;a21007-Rtd=0.033,a21007-Flag=N;a21006-Rtd=0.036,a21006-Flag=N;"
    "a21001-Rtd=25.40,a21001-Flag=N;a21003-Rtd=101.94,a21003-Flag=N;a21002-Rtd=49.20,"
    "a21002-Flag=N&&cc01\r\n"
)
# Same file, SAMPLE[5].
GUOCAY_SAMPLE_5 = (
    "##0289QN=20191012133710130;ST=22;CN=2011;PW=123456;MN=Y80110010000010;Flag=4;"
    "CP=&&DataTime=20191012133710;a214-Rtd=0.00,a214-Flag=N;a215-Rtd=0.00,a215-Flag=N;"
    "a216-Rtd=0.036,a216-Flag=N;a217-Rtd=0.033,a217-Flag=N;a211-Rtd=25.40,a211-Flag=N;"
    "a212-Rtd=49.20,a212-Flag=N;a213-Rtd=101.94,a213-Flag=N&&5780\r\n"
)
# Same file, SAMPLE[1]: its body was edited after its CRC was computed (the CRC of the body
# is 2D00, not 1100), so a correct parser must refuse it.
GUOCAY_SAMPLE_1_STALE_CRC = (
    "##0275QN=20190901181526940;ST=32;CN=2011;PW=123456;MN=Y80110010000010;Flag=4;"
    "CP=&&DataTime=20190901181500;a21005-Rtd=1.760,a21005-Flag=N;a21026-Rtd=106.400,"
    "a21026-Flag=N;O3-Rtd=63.400,O3-Flag=N;a21004-Rtd=63.200,a21004-Flag=N;a34002-Rtd=9,"
    "a34002-Flag=N;a34004-Rtd=4,a34004-Flag=N&&1100\r\n"
)
# A device capture published as a hex dump (https://blog.csdn.net/qq_17486399/article/
# details/143863664), trailing CR LF included.
CSDN_DEVICE_CAPTURE = bytes.fromhex(
    "232330333133514e3d32303234313131353139303430383030303b53543d32373b434e3d323031313b"
    "50573d3132333435363b4d4e3d415149323431313133323630303333323b466c61673d353b43503d26"
    "264461746154696d653d32303234313131353139303430383b6132313032362d5274643d3131373b61"
    "32313030342d5274643d31363b6f33313130342d5274643d32393b6132313030352d5274643d302e31"
    "343b6133343030342d5274643d363b6133343030322d5274643d363b6133343030312d5274643d363b"
    "6130313030312d5274643d32382e313b6130313030322d5274643d36383b4c412d5274643d34393b61"
    "30313030362d5274643d313030323b6130363030312d5274643d302e303b6130343030332d5274643d"
    "303b6130313030372d5274643d302e303b6130313030382d5274643d37302626393930310d0a"
)
# A real-time upload with Flag=7 (A and D set, yet no PNUM/PNO, as devices do) and its 9014
# answer, from T212MapperTest.answer() in a fork of xiaoyao9184/hj-t212-parser (Java package
# com.hj212; the search index did not name the repository).
FORK_UPLOAD_FLAG_7 = (
    "##0453QN=20160801085000001;ST=22;CN=2011;PW=123456;MN=010000A8900016F000169DC0;Flag=7;"
    "CP=&&DataTime=20160801084000;a21005-Rtd=1.1,a21005-Flag=N;a21004-Rtd=112,a21004-Flag=N;"
    "a21026-Rtd=58,a21026-Flag=N;LA-td=50.1,LA-Flag=N;a34004-Rtd=207,a34004-Flag=N;"
    "a34002-Rtd=295,a34002-Flag=N;a01001-Rtd=12.6,a01001-Flag=N;a01002-Rtd=32,a01002-Flag=N;"
    "a01006-Rtd=101.02,a01006-Flag=N;a01007-Rtd=2.1,a01007-Flag=N;a01008-Rtd=120,"
    "a01008-Flag=N;a34001-Rtd=217,a34001-Flag=N;&&c0c1\r\n"
)
FORK_DATA_ANSWER = (
    "##0087QN=20160801085000001;ST=91;CN=9014;PW=123456;MN=010000A8900016F000169DC0;Flag=4;CP=&&&&C241\r\n"
)

PUBLISHED = [
    ANNEX_C_EXAMPLE,
    HJT212_2005_UPLOAD,
    GUOCAY_SAMPLE_0,
    GUOCAY_SAMPLE_5,
    CSDN_DEVICE_CAPTURE.decode(),
    FORK_UPLOAD_FLAG_7,
    FORK_DATA_ANSWER,
]


def wire(segment: str) -> str:
    """A frame around ``segment`` with the right length and CRC (the appendix's algorithm)."""
    crc = _crc16_reference(segment.encode())
    return f"##{len(segment.encode()):04d}{segment}{crc:04X}\r\n"


SEGMENT = (
    "QN=20240101120000123;ST=32;CN=2051;PW=123456;MN=010000A8900016F000169DC0;Flag=5;"
    "CP=&&DataTime=20240101120000;w01018-Cou=1.25,w01018-Avg=12.5,w01018-Flag=N;"
    "w00000-Cou=100.0,w00000-Avg=0.5,w00000-Flag=N&&"
)


# --- CRC ------------------------------------------------------------------------------------


@pytest.mark.parametrize("frame", PUBLISHED)
def test_crc16_matches_published_crc_for_published_frame(frame: str) -> None:
    segment = frame[6:-6].encode()
    assert int(frame[2:6]) == len(segment)
    assert crc16(segment) == int(frame[-6:-2], 16)
    assert _crc16_reference(segment) == int(frame[-6:-2], 16)


@pytest.mark.parametrize("frame", PUBLISHED)
def test_parse_accepts_published_frame(frame: str) -> None:
    assert isinstance(parse(frame), Frame)


def test_parse_raises_checksum_error_for_published_frame_with_stale_crc() -> None:
    with pytest.raises(FrameChecksumError):
        parse(GUOCAY_SAMPLE_1_STALE_CRC)


def test_crc16_differs_from_modbus_for_check_string() -> None:
    # CRC-16/MODBUS("123456789") is 0x4B37; the HJ 212 variant is another function.
    assert crc16(b"123456789") != 0x4B37
    assert crc16(b"123456789") == _crc16_reference(b"123456789")


@pytest.mark.parametrize("length", [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 64, 1024, 16_385, 16_386])
def test_crc16_equals_appendix_algorithm_for_edge_lengths(length: int) -> None:
    data = bytes((i * 37 + 11) % 256 for i in range(length))
    assert crc16(data) == _crc16_reference(data)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=3000))
def test_crc16_equals_appendix_algorithm_for_any_bytes(data: bytes) -> None:
    assert crc16(data) == _crc16_reference(data)


# --- parse: fields and accessors ------------------------------------------------------------


def test_parse_reads_fields_of_annex_example() -> None:
    frame = parse(ANNEX_C_EXAMPLE)
    assert (frame.qn, frame.st, frame.cn, frame.pw) == ("20160801085857223", "32", "1062", "100000")
    assert frame.mn == "010000A8900016F000169DC0"
    assert frame.flag == 5
    assert frame.extras == {"RtdInterval": "30"}
    assert frame.readings == {}
    assert frame.needs_ack and needs_ack(frame)
    assert frame.version == VERSION_2017
    assert frame.standard == "HJ 212-2017"
    assert not frame.is_split


def test_parse_reads_2005_upload_without_qn_and_flag() -> None:
    frame = parse(HJT212_2005_UPLOAD)
    assert frame.qn is None and frame.flag is None
    assert frame.version == VERSION_2005 and not frame.needs_ack
    assert frame.datatime == datetime(2016, 8, 24, 0, 38, 17)
    assert frame.values == {
        "B01": {"Rtd": "36.91"},
        "011": {"Rtd": "231.0", "Flag": "N"},
        "060": {"Rtd": "1.803", "Flag": "N"},
    }
    assert frame.value("011") == Decimal("231.0")
    assert LEGACY_CODES["011"] == "w01018"


def test_parse_reads_device_capture_bytes() -> None:
    frame = parse(CSDN_DEVICE_CAPTURE)
    assert frame.st == "27" and frame.cn == "2011"
    assert frame.datatime == datetime(2024, 11, 15, 19, 4, 8)
    assert frame.value("a21026") == Decimal(117)
    assert frame.value("a01001") == Decimal("28.1")
    assert len(frame.values) == 15


def test_frame_value_keeps_text_exactly_for_decimal() -> None:
    frame = parse(wire(SEGMENT))
    assert frame.values["w01018"] == {"Cou": "1.25", "Avg": "12.5", "Flag": "N"}
    assert frame.readings["w00000-Cou"] == "100.0"
    assert frame.value("w00000", "Cou") == Decimal("100.0")
    assert str(frame.value("w01018", "Avg")) == "12.5"


def test_frame_flag_of_returns_data_flag_when_sent() -> None:
    frame = parse(wire(SEGMENT))
    assert frame.flag_of("w01018") is DataFlag.NORMAL
    assert frame.flag_of("w01018") == "N"


def test_frame_flag_of_returns_none_when_flag_not_sent() -> None:
    frame = parse(HJT212_2005_UPLOAD)
    assert frame.flag_of("B01") is None


def test_frame_value_raises_reading_not_found_for_absent_code() -> None:
    frame = parse(wire(SEGMENT))
    with pytest.raises(ReadingNotFoundError) as caught:
        frame.value("w21003")
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, OracleError)
    with pytest.raises(ReadingNotFoundError):
        frame.value("w01018", "Max")
    with pytest.raises(ReadingNotFoundError):
        frame.flag_of("w21003")


def test_frame_value_raises_value_error_for_non_numeric_suffix() -> None:
    frame = parse(wire(SEGMENT))
    with pytest.raises(FrameValueError):
        frame.value("w01018", "Flag")


def test_frame_flag_of_raises_value_error_for_unknown_letter() -> None:
    segment = SEGMENT.replace("w01018-Flag=N", "w01018-Flag=Q")
    with pytest.raises(FrameValueError):
        parse(wire(segment)).flag_of("w01018")


def test_frame_repr_and_str_hide_password() -> None:
    frame = parse(wire(SEGMENT.replace("PW=123456", "PW=s3cr3tPW")))
    assert "s3cr3tPW" not in repr(frame)
    assert "s3cr3tPW" not in str(frame)
    assert frame.pw == "s3cr3tPW"


def test_parse_error_message_hides_password_when_header_field_is_malformed() -> None:
    segment = SEGMENT.replace("PW=123456", "PWs3cr3tPW")
    with pytest.raises(FrameSyntaxError) as caught:
        parse(wire(segment))
    assert "s3cr3tPW" not in str(caught.value)


def test_parse_accepts_ms_datatime_and_bytes_input() -> None:
    segment = SEGMENT.replace("DataTime=20240101120000", "DataTime=20240101120000250")
    frame = parse(wire(segment).encode())
    assert frame.datatime == datetime(2024, 1, 1, 12, 0, 0, 250_000)


def test_parse_accepts_trailing_separator_before_cp_end() -> None:
    frame = parse(FORK_UPLOAD_FLAG_7)
    assert frame.flag == 7 and frame.needs_ack and not frame.is_split
    assert frame.values["LA"] == {"td": "50.1", "Flag": "N"}


def test_parse_reads_split_packet_fields() -> None:
    segment = SEGMENT.replace("Flag=5;", "Flag=7;PNUM=3;PNO=2;")
    frame = parse(wire(segment))
    assert (frame.pnum, frame.pno, frame.is_split) == (3, 2, True)


def test_parse_keeps_bare_items_as_extras() -> None:
    segment = SEGMENT.replace("DataTime=20240101120000;", "DataTime=20240101120000;PolId=w01018;")
    frame = parse(wire(segment))
    assert frame.extras == {"PolId": "w01018"}
    assert "PolId" not in frame.values


def test_parse_gives_same_frame_on_repeat_of_a_device_layout() -> None:
    # The second parse of a layout goes through the remembered per-device pattern.
    first = parse(wire(SEGMENT))
    again = parse(wire(SEGMENT.replace("Cou=1.25", "Cou=9.75")))
    assert again.readings == {**first.readings, "w01018-Cou": "9.75"}
    with pytest.raises(FrameValueError):
        parse(wire(SEGMENT.replace("Cou=1.25", "Cou=9.7.5")))


# --- parse: one defect each -----------------------------------------------------------------

GOOD = wire(SEGMENT)


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        pytest.param("#$" + GOOD[2:], FrameSyntaxError, id="no-header"),
        pytest.param(GOOD[:-2] + "\n\n", FrameSyntaxError, id="no-crlf"),
        pytest.param(GOOD[:2] + "01x3" + GOOD[6:], FrameSyntaxError, id="length-not-digits"),
        pytest.param(GOOD[:-6] + "12G4\r\n", FrameSyntaxError, id="crc-not-hex"),
        pytest.param(wire(SEGMENT.replace("Flag=N;", "FlagN;", 1)), FrameSyntaxError, id="item"),
        pytest.param(wire(SEGMENT.replace("ST=32", "ST=32;ST=32")), FrameSyntaxError, id="dup"),
        pytest.param(wire(SEGMENT.replace("ST=32", "XX=1;ST=32")), FrameSyntaxError, id="unknown"),
        pytest.param(wire(SEGMENT.replace("N;w0", "N;w01018-Avg=1;w0")), FrameSyntaxError, id="dup"),
        pytest.param(wire(SEGMENT.replace("w00000-", "-")), FrameSyntaxError, id="empty-code"),
        pytest.param(wire(SEGMENT.replace("CP=&&", "CP=")), FrameSyntaxError, id="cp-open"),
        pytest.param(wire(SEGMENT[:-2]), FrameSyntaxError, id="cp-unclosed"),
        pytest.param(wire(SEGMENT.replace("12.5", "1\t2.5")), FrameSyntaxError, id="control"),
        pytest.param(GOOD[:-6] + "0000\r\n", FrameChecksumError, id="crc"),
        pytest.param(GOOD.replace("12.5", "12.6"), FrameChecksumError, id="body-changed"),
        pytest.param(GOOD[:2] + "0100" + GOOD[6:], FrameLengthError, id="length"),
        pytest.param(GOOD[:100], FrameTruncatedError, id="truncated"),
        pytest.param("##01", FrameTruncatedError, id="truncated-header"),
        pytest.param(
            wire(SEGMENT.replace("MN=010000A8900016F000169DC0;", "")), FrameMissingFieldError, id="mn"
        ),
        pytest.param(wire(SEGMENT.replace(";CP=&&", ";XP=&&")), FrameMissingFieldError, id="cp"),
        pytest.param(wire(SEGMENT.replace("Flag=5;", "Flag=5;PNUM=2;")), FrameMissingFieldError, id="pno"),
        pytest.param(wire(SEGMENT.replace("Avg=12.5", "Avg=abc")), FrameValueError, id="number"),
        pytest.param(wire(SEGMENT.replace("Avg=12.5", "Avg=")), FrameValueError, id="empty-num"),
        pytest.param(wire(SEGMENT.replace("Avg=12.5", "Avg=1e5")), FrameValueError, id="exponent"),
        pytest.param(wire(SEGMENT.replace("0101120000;", "0230120000;")), FrameValueError, id="date"),
        pytest.param(wire(SEGMENT.replace("0101120000;", "01011200;")), FrameValueError, id="dt-len"),
        pytest.param(wire(SEGMENT.replace("Flag=5", "Flag=256")), FrameValueError, id="flag"),
        pytest.param(wire(SEGMENT.replace("Flag=5;", "Flag=5;PNUM=2;PNO=3;")), FrameValueError, id="pno"),
        pytest.param(wire(SEGMENT.replace("CN=2051", "CN=20a1")), FrameValueError, id="cn"),
        pytest.param(wire(SEGMENT.replace("QN=2024", "QN=x024")), FrameValueError, id="qn"),
        pytest.param(
            wire(SEGMENT.replace("w00000-Avg=0.5", "w00000-Avg=0.5" + ",x-Rtd=1" * 120)),
            FrameTooLargeError,
            id="too-large",
        ),
    ],
)
def test_parse_raises_named_error_for_frame_with_one_defect(frame: str, error: type[FrameError]) -> None:
    with pytest.raises(error) as caught:
        parse(frame)
    assert type(caught.value) is error
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, EtsError)


def test_parse_accepts_large_segment_when_limit_raised() -> None:
    segment = SEGMENT.replace(
        "w00000-Avg=0.5", "w00000-Avg=0.5" + "".join(f",x{i:03d}-Rtd=1" for i in range(120))
    )
    frame = parse(wire(segment), max_data_len=MAX_DATA_LEN_FIELD)
    assert len(wire(segment)) > MAX_DATA_LEN
    assert frame.value("x119") == 1


# --- encode ---------------------------------------------------------------------------------


def test_encode_reproduces_published_frame() -> None:
    assert (
        encode(
            qn="20160801085857223",
            st="32",
            cn="1062",
            pw="100000",
            mn="010000A8900016F000169DC0",
            flag=5,
            extras={"RtdInterval": 30},
        )
        == ANNEX_C_EXAMPLE
    )


def test_encode_round_trips_published_frames() -> None:
    for frame in (GUOCAY_SAMPLE_0, GUOCAY_SAMPLE_5, CSDN_DEVICE_CAPTURE.decode()):
        parsed = parse(frame)
        assert parse(parsed.to_wire()) == parsed


def test_encode_writes_decimal_and_int_values_as_plain_numbers() -> None:
    text = encode(st="32", cn="2011", pw="1", mn="M", values={"w01018": {"Rtd": Decimal("1E+2")}})
    assert "w01018-Rtd=100" in text
    assert parse(text).value("w01018") == 100


@pytest.mark.parametrize(
    "values",
    [
        {"w01018": {"Rtd": "1;w01018-Flag=N"}},
        {"w01018": {"Rtd": "1,x"}},
        {"w01018": {"Rtd": "1&&"}},
        {"w01018": {"Fl=ag": "N"}},
        {"w01-018": {"Rtd": "1"}},
        {"w01018": {"Rtd": "1\r\n"}},
        {"w01018": {}},
    ],
)
def test_encode_raises_syntax_error_when_value_would_inject_items(
    values: dict[str, dict[str, str]],
) -> None:
    with pytest.raises(FrameSyntaxError):
        encode(st="32", cn="2011", pw="1", mn="M", values=values)


def test_encode_error_hides_password() -> None:
    with pytest.raises(FrameSyntaxError) as caught:
        encode(st="32", cn="2011", pw="se;cret", mn="M")
    assert "se;cret" not in str(caught.value)


def test_encode_raises_value_error_for_non_numeric_reading() -> None:
    with pytest.raises(FrameValueError):
        encode(st="32", cn="2011", pw="1", mn="M", values={"w01018": {"Rtd": "high"}})


def test_encode_raises_value_error_for_aware_datatime() -> None:
    from datetime import UTC

    with pytest.raises(FrameValueError):
        encode(st="32", cn="2011", pw="1", mn="M", datatime=datetime(2024, 1, 1, tzinfo=UTC))


def test_encode_raises_too_large_error_over_limit() -> None:
    values = {f"x{i:05d}": {"Rtd": "1.000"} for i in range(100)}
    with pytest.raises(FrameTooLargeError):
        encode(st="32", cn="2011", pw="1", mn="M", values=values)
    assert (
        parse(
            encode(st="32", cn="2011", pw="1", mn="M", values=values, max_data_len=9999), max_data_len=9999
        ).value("x00099")
        == 1
    )


# --- generated frames: round trip and fuzz --------------------------------------------------

_SAFE = string.ascii_letters + string.digits + "._"
_codes = st.one_of(
    st.sampled_from(sorted(POLLUTANTS)),
    st.from_regex(r"[a-z][0-9]{5}", fullmatch=True),
    st.from_regex(r"[A-Z0-9]{2,3}", fullmatch=True),
)
_numbers = st.one_of(
    st.integers(-(10**9), 10**9).map(str),
    st.decimals(min_value=-(10**6), max_value=10**6, places=3).map(lambda d: format(d, "f")),
)
_reading = st.one_of(
    st.tuples(st.sampled_from(["Rtd", "Avg", "Min", "Max", "Cou", "ZsRtd", "ZsAvg"]), _numbers),
    st.tuples(st.just("Flag"), st.sampled_from([f.value for f in DataFlag])),
    st.tuples(st.sampled_from(["SampleTime", "EFlag", "Info"]), st.text(_SAFE, max_size=14)),
)
_times = st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)
)


@st.composite
def frame_fields(draw: st.DrawFn) -> dict[str, object]:
    split = draw(st.booleans())
    pnum = draw(st.integers(1, 20)) if split else None
    return {
        "qn": draw(st.none() | st.from_regex(r"[0-9]{17}", fullmatch=True)),
        "st": draw(st.from_regex(r"[0-9]{2}", fullmatch=True)),
        "cn": draw(st.from_regex(r"[0-9]{4}", fullmatch=True)),
        "pw": draw(st.text(_SAFE, min_size=1, max_size=8)),
        "mn": draw(st.text(_SAFE, min_size=1, max_size=24)),
        "flag": draw(st.none() | st.integers(0, 255)),
        "pnum": pnum,
        "pno": draw(st.integers(1, pnum)) if pnum else None,
        "datatime": draw(st.none() | _times),
        "values": draw(_values()),
        "extras": draw(
            st.dictionaries(
                st.sampled_from(["RtdInterval", "PolId", "QnRtn", "SystemTime"]),
                st.text(_SAFE, max_size=10),
                max_size=2,
            )
        ),
    }


def _values() -> st.SearchStrategy[dict[str, dict[str, str]]]:
    readings = st.lists(_reading, min_size=1, max_size=4).map(dict)
    return st.dictionaries(_codes, readings, max_size=6)


@settings(max_examples=300, deadline=None)
@given(frame_fields())
def test_encode_then_parse_round_trips_generated_frames(fields: dict[str, object]) -> None:
    text = encode(**fields, max_data_len=MAX_DATA_LEN_FIELD)  # type: ignore[arg-type]
    frame = parse(text, max_data_len=MAX_DATA_LEN_FIELD)
    assert frame.values == fields["values"]
    assert frame.extras == fields["extras"]
    assert (frame.qn, frame.flag, frame.pnum, frame.pno, frame.datatime) == (
        fields["qn"],
        fields["flag"],
        fields["pnum"],
        fields["pno"],
        fields["datatime"],
    )
    assert frame.to_wire(max_data_len=MAX_DATA_LEN_FIELD) == text


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300) | st.binary(max_size=40).map(lambda b: b"##0" + b))
def test_parse_raises_only_frame_errors_for_arbitrary_bytes(data: bytes) -> None:
    with contextlib.suppress(FrameError):
        parse(data)


@st.composite
def mutated_frames(draw: st.DrawFn) -> tuple[bytes, bool]:
    base = draw(st.sampled_from([f.encode() if isinstance(f, str) else f for f in PUBLISHED]))
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "replace"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        char = draw(st.sampled_from(list(b"=;,&-#0123456789.ABCFNQRtd\r\n\x00\xff ")))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data.insert(at, char)
        elif kind == "delete" and data:
            del data[at]
        elif data:
            data[at] = char
    return bytes(data), draw(st.booleans())


def _refit(data: bytes) -> bytes:
    """Fix length and CRC of a mutated frame so the mutation reaches the segment parser."""
    segment = data[6:-6] if len(data) >= 12 else data
    crc = _crc16_reference(segment)
    return b"##%04d" % len(segment) + segment + b"%04X\r\n" % crc


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_frames())
def test_parse_raises_only_frame_errors_for_mutated_published_frames(
    case: tuple[bytes, bool],
) -> None:
    data, refit = case
    candidate = _refit(data) if refit else data
    try:
        frame = parse(candidate, max_data_len=MAX_DATA_LEN_FIELD)
    except FrameError:
        return
    # Whatever parses must encode back to something that parses to the same frame.
    assert parse(frame.to_wire(max_data_len=MAX_DATA_LEN_FIELD), max_data_len=9999) == frame


_cp_keys = st.sampled_from(
    ["DataTime", "RtdInterval", "w01018-Rtd", "w01018-Flag", "a-Avg", "a-b-Rtd", "-Rtd", "a-",
     "Rtd", "", "x-ZsRtd", "a21026-Cou", "a=b"]
)  # fmt: skip
_cp_values = st.sampled_from(
    ["20240101120000", "20240101120000123", "2024013", "1.5", "-2", ".5", "1.", "N", "", "a=b",
     "1e5", "&", "+0"]
)  # fmt: skip
_cp_items = st.one_of(
    st.tuples(_cp_keys, _cp_values).map(lambda kv: f"{kv[0]}={kv[1]}"),
    st.text(alphabet="ab01-=;,&.", max_size=6),
)
_cp_text = st.lists(st.tuples(_cp_items, st.sampled_from([";", ",", ";;", ""])), max_size=6).map(
    lambda items: "".join(item + sep for item, sep in items)
)


@settings(max_examples=1500, deadline=None)
@given(_cp_text, st.sampled_from(["d1", "d2", "d3"]))
def test_parse_cp_fast_path_agrees_with_reference_for_any_items(cp: str, device: str) -> None:
    def outcome(call: object) -> object:
        try:
            return call()  # type: ignore[operator]
        except FrameError as error:
            return type(error)

    expected = outcome(lambda: _parse_cp_slow(cp))
    key = (f"fuzz-{device}", "2011")
    assert outcome(lambda: _parse_cp(cp, cp.encode(), key)) == expected
    # A second time, possibly through the remembered layout of this device.
    assert outcome(lambda: _parse_cp(cp, cp.encode(), key)) == expected


# --- replies --------------------------------------------------------------------------------


def test_data_ack_matches_published_answer() -> None:
    assert data_ack(parse(FORK_UPLOAD_FLAG_7)) == FORK_DATA_ANSWER


def test_request_answer_and_execution_result_carry_codes() -> None:
    command = parse(ANNEX_C_EXAMPLE)
    answer = parse(request_answer(command))
    assert (answer.st, answer.cn, answer.qn, answer.flag) == ("91", "9011", command.qn, 4)
    assert answer.extras == {"QnRtn": "1"}
    result = parse(execution_result(command, ExeRtn.NO_DATA))
    assert (result.cn, result.extras) == ("9012", {"ExeRtn": "100"})
    assert parse(request_answer(command, QnRtn.PW_ERROR)).extras == {"QnRtn": "3"}
    assert parse(notify_answer(command)).cn == "9013"
    assert not answer.needs_ack


def test_data_ack_raises_missing_field_without_qn() -> None:
    with pytest.raises(FrameMissingFieldError):
        data_ack(parse(HJT212_2005_UPLOAD))


def test_needs_ack_follows_flag_bit_a() -> None:
    assert needs_ack(parse(wire(SEGMENT)))
    assert not needs_ack(parse(wire(SEGMENT.replace("Flag=5", "Flag=4"))))
    assert not needs_ack(parse(HJT212_2005_UPLOAD))


# --- packet-split messages ------------------------------------------------------------------


def _part(pno: int, items: str, pnum: int = 3, qn: str = "20240101120000123") -> Frame:
    return parse(
        wire(
            f"QN={qn};ST=32;CN=2051;PW=123456;MN=DEV1;Flag=7;PNUM={pnum};PNO={pno};"
            f"CP=&&DataTime=20240101120000;{items}&&"
        )
    )


def test_reassembler_joins_packets_received_out_of_order() -> None:
    joiner = Reassembler()
    assert joiner.add(_part(3, "w21003-Avg=0.4")) is None
    assert joiner.add(_part(1, "w01018-Avg=12.5,w01018-Flag=N")) is None
    assert joiner.pending == 1
    whole = joiner.add(_part(2, "w01018-Cou=1.25;w00000-Cou=100"))
    assert whole is not None and joiner.pending == 0
    assert whole.values == {
        "w01018": {"Avg": "12.5", "Flag": "N", "Cou": "1.25"},
        "w00000": {"Cou": "100"},
        "w21003": {"Avg": "0.4"},
    }
    assert (whole.pnum, whole.pno, whole.flag) == (None, None, 5)
    assert whole.datatime == datetime(2024, 1, 1, 12)


def test_reassembler_passes_unsplit_frame_through() -> None:
    frame = parse(wire(SEGMENT))
    assert Reassembler().add(frame) is frame


def test_reassembler_ignores_repeated_packet() -> None:
    joiner = Reassembler()
    assert joiner.add(_part(1, "w01018-Avg=1", pnum=2)) is None
    assert joiner.add(_part(1, "w01018-Avg=1", pnum=2)) is None
    assert joiner.add(_part(2, "w00000-Avg=2", pnum=2)) is not None


@pytest.mark.parametrize(
    "second",
    [
        pytest.param(lambda: _part(1, "w01018-Avg=9", pnum=2), id="same-pno-other-content"),
        pytest.param(lambda: _part(2, "w01018-Avg=9", pnum=3), id="pnum-changed"),
        pytest.param(lambda: _part(2, "w01018-Avg=9", pnum=2), id="reading-twice"),
    ],
)
def test_reassembler_raises_reassembly_error_for_conflicting_packet(second: object) -> None:
    joiner = Reassembler()
    joiner.add(_part(1, "w01018-Avg=1", pnum=2))
    with pytest.raises(ReassemblyError):
        joiner.add(second())  # type: ignore[operator]


def test_reassembler_drops_incomplete_message_after_timeout(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    joiner = Reassembler(timeout=10, clock=lambda: now[0])
    joiner.add(_part(1, "w01018-Avg=1", qn="20240101120000001"))
    now[0] = 11
    joiner.add(_part(1, "w01018-Avg=1", qn="20240101120000002"))
    assert joiner.pending == 1
    assert "dropping incomplete split message" in caplog.text
    assert "123456" not in caplog.text


def test_reassembler_evicts_oldest_beyond_max_pending() -> None:
    joiner = Reassembler(max_pending=2)
    for i in range(3):
        joiner.add(_part(1, "w01018-Avg=1", qn=f"2024010112000000{i}"))
    assert joiner.pending == 2


def test_reassembler_raises_missing_field_for_split_frame_without_qn() -> None:
    frame = parse(wire("ST=32;CN=2051;PW=1;MN=D;Flag=6;PNUM=2;PNO=1;CP=&&w01018-Avg=1&&"))
    with pytest.raises(FrameMissingFieldError):
        Reassembler().add(frame)


def test_reassembler_refuses_message_announcing_more_than_max_packets() -> None:
    joiner = Reassembler(max_packets=4)
    with pytest.raises(ReassemblyLimitError, match="5 packets"):
        joiner.add(_part(1, "w01018-Avg=1", pnum=5))
    assert (joiner.pending, joiner.pending_bytes) == (0, 0)
    with pytest.raises(ReassemblyLimitError, match="9999 packets"):
        Reassembler().add(_part(1, "w01018-Avg=1", pnum=9999))  # the standard's largest PNUM
    assert joiner.add(_part(1, "w01018-Avg=1", pnum=2)) is None
    assert joiner.add(_part(2, "w00000-Avg=2", pnum=2)) is not None
    assert (joiner.pending, joiner.pending_bytes) == (0, 0)


def test_reassembler_drops_every_incomplete_message_beyond_max_pending_bytes() -> None:
    probe = Reassembler()
    probe.add(_part(1, "w01018-Avg=1", qn="20240101120000000"))
    size = probe.pending_bytes
    joiner = Reassembler(max_pending_bytes=3 * size)
    for i in range(3):
        joiner.add(_part(1, "w01018-Avg=1", qn=f"2024010112000000{i}"))
    assert (joiner.pending, joiner.pending_bytes) == (3, 3 * size)
    with pytest.raises(ReassemblyLimitError, match="all 3 dropped"):
        joiner.add(_part(1, "w01018-Avg=1", qn="20240101120000009"))
    assert (joiner.pending, joiner.pending_bytes) == (0, 0)
    # a genuine split message still joins afterwards
    assert joiner.add(_part(1, "w01018-Avg=1", pnum=2)) is None
    assert joiner.add(_part(2, "w00000-Avg=2", pnum=2)) is not None
    assert (joiner.pending, joiner.pending_bytes) == (0, 0)


# --- byte streams ---------------------------------------------------------------------------


def test_iter_frames_resynchronises_on_garbage_and_keeps_partial_frame() -> None:
    good = GOOD.encode()
    buffer = bytearray(b"\x00noise#" + good + b"junk" + good + good[:50])
    out = list(iter_frames(buffer))
    frames = [item for item in out if isinstance(item, bytes)]
    errors = [item for item in out if isinstance(item, FrameError)]
    assert frames == [good, good]
    # "\x00noise" skipped, then "##" + "#020" is a bad length field (the real "##" overlaps
    # it and is kept), then "junk" skipped.
    assert [type(e) for e in errors] == [FrameSyntaxError] * 3
    assert bytes(buffer) == good[:50]


def test_iter_frames_reports_truncated_frame_and_recovers_next() -> None:
    good = GOOD.encode()
    buffer = bytearray(good[:80] + b"\r\n" + good)
    out = list(iter_frames(buffer))
    assert isinstance(out[0], FrameTruncatedError)
    assert out[1:] == [good]


def test_iter_frames_skips_oversized_and_bad_length_headers() -> None:
    good = GOOD.encode()
    buffer = bytearray(b"##9999" + b"##12x4" + good)
    out = list(iter_frames(buffer))
    assert isinstance(out[0], FrameTooLargeError)
    assert isinstance(out[1], FrameSyntaxError)
    assert out[2:] == [good]


@pytest.mark.parametrize(
    ("length", "error"),
    [(-10, FrameLengthError), (10, FrameTruncatedError)],
    ids=["length-too-small", "length-too-big"],
)
def test_iter_frames_reports_wrong_length_and_recovers_next(length: int, error: type[FrameError]) -> None:
    good = GOOD.encode()
    wrong = b"##%04d" % (int(good[2:6]) + length) + good[6:]
    out = list(iter_frames(bytearray(wrong + good)))
    assert [type(item) for item in out] == [error, bytes]
    assert out[1] == good


def test_frame_scanner_yields_same_frames_when_fed_byte_by_byte() -> None:
    stream = (b"xx" + GOOD.encode() + ANNEX_C_EXAMPLE.encode() + b"\r\n") * 2
    scanner = FrameScanner()
    frames = [
        item
        for i in range(len(stream))
        for item in scanner.feed(stream[i : i + 1])
        if isinstance(item, bytes)
    ]
    assert [parse(f).cn for f in frames] == ["2051", "1062", "2051", "1062"]
    assert scanner.buffered == 0


# --- tables ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "unit", "total_unit"),
    [
        ("w01018", "mg/L", "kg"),
        ("w21003", "mg/L", "kg"),
        ("w21011", "mg/L", "kg"),
        ("w21001", "mg/L", "kg"),
        ("w01001", "", None),
        ("w00000", "L/s", "m³"),
        ("a21026", "mg/m³", "kg"),
        ("a21002", "mg/m³", "kg"),
        ("a34013", "mg/m³", "kg"),
        ("a01011", "m/s", None),
        ("a00000", "m³/s", "m³"),
        ("a21005", "mg/m³", "kg"),
        ("a05001", "mg/m³", "kg"),
        ("a01012", "°C", None),
        ("a01014", "%", None),
        ("a19001", "%", None),
    ],
)
def test_pollutants_table_gives_units_for_required_code(code: str, unit: str, total_unit: str | None) -> None:
    pollutant = POLLUTANTS[code]
    assert (pollutant.code, pollutant.unit, pollutant.total_unit) == (code, unit, total_unit)
    assert pollutant.name and pollutant.name_zh


def test_data_flags_name_every_standard_letter() -> None:
    assert {f.value for f in DataFlag} == set("NFMSDCTB")
    assert set(DATA_FLAG_NAMES) == set(DataFlag)
