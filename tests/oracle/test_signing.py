"""Tests of device signatures: hand-computed EIP-712 reading and frame digests, frame signing,
recovery of frames and of single readings through their witness, JSON forms, Merkle leaves."""

from __future__ import annotations

import dataclasses
import json
import pickle
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from coincurve import PrivateKey, PublicKey
from eth_account import Account
from eth_account.messages import SignableMessage, _hash_eip191_message, encode_typed_data
from eth_hash.auto import keccak as eth_hash_keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.errors import MerkleEmptyTreeError, MerkleLeafEncodingError
from chain.merkle import StandardMerkleTree, process_proof
from domain.errors import EtsError
from oracle.errors import (
    DeviceKeyError,
    OracleError,
    ReadingDigestMismatchError,
    ReadingReplayError,
    ReadingSignatureError,
    ReadingValueError,
)
from oracle.gateway import SequenceGap, SequenceTracker
from oracle.signing.eip712 import (
    DOMAIN_NAME,
    DOMAIN_VERSION,
    FRAME_TYPE,
    FRAME_TYPEHASH,
    READING_TYPE,
    READING_TYPEHASH,
    ReadingDomain,
    frame_digest,
    frame_typed_data,
    reading_digest,
    reading_hash,
    reading_typed_data,
)
from oracle.signing.hashing import KECCAK_BACKEND, keccak
from oracle.signing.proof import (
    LEAF_ENCODING,
    FrameWitness,
    SignedFrame,
    SignedReading,
    batch_root,
    batch_tree,
    leaf,
    leaf_hash,
    recover_frame_signer,
    recover_signer,
    verify,
    verify_frame,
)
from oracle.signing.reading import DATA_FLAGS, Reading, ReadingFields, scale_decimal
from oracle.signing.signer import DeviceSigner
from tests.utils.readings import (
    BASE_TIME,
    DOMAIN,
    device_key,
    domains,
    frame_fields,
    reading_fields,
    readings,
    signed_frame,
    signer,
)

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
LEDGER = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


_DOMAIN_FIELDS: list[dict[str, str]] = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
_READING_FIELDS: list[dict[str, str]] = [
    {"name": "device", "type": "address"},
    {"name": "sequence", "type": "uint64"},
    {"name": "time", "type": "uint64"},
    {"name": "pollutant", "type": "bytes8"},
    {"name": "value", "type": "int256"},
    {"name": "decimals", "type": "uint8"},
    {"name": "unit", "type": "bytes8"},
    {"name": "flag", "type": "bytes1"},
]


def _typed_domain(domain: ReadingDomain) -> dict[str, Any]:
    return {
        "name": "ETS EmissionsLedger",
        "version": "1",
        "chainId": domain.chain_id,
        "verifyingContract": domain.verifying_contract,
    }


def _typed_reading(reading: Reading) -> dict[str, Any]:
    return {
        "device": reading.device,
        "sequence": reading.sequence,
        "time": reading.time,
        "pollutant": reading.pollutant.encode().ljust(8, b"\x00"),
        "value": reading.value,
        "decimals": reading.decimals,
        "unit": reading.unit.encode().ljust(8, b"\x00"),
        "flag": reading.flag.encode(),
    }


def _eth_account_message(domain: ReadingDomain, reading: Reading) -> SignableMessage:
    """The reading as eth-account encodes it, from a typed-data message written out by hand."""
    return encode_typed_data(
        full_message={
            "types": {"EIP712Domain": _DOMAIN_FIELDS, "Reading": _READING_FIELDS},
            "primaryType": "Reading",
            "domain": _typed_domain(domain),
            "message": _typed_reading(reading),
        }
    )


def _eth_account_frame_message(domain: ReadingDomain, readings_: Sequence[Reading]) -> SignableMessage:
    """A frame as eth-account encodes it, from a typed-data message written out by hand."""
    return encode_typed_data(
        full_message={
            "types": {
                "EIP712Domain": _DOMAIN_FIELDS,
                "Frame": [{"name": "readings", "type": "Reading[]"}],
                "Reading": _READING_FIELDS,
            },
            "primaryType": "Frame",
            "domain": _typed_domain(domain),
            "message": {"readings": [_typed_reading(r) for r in readings_]},
        }
    )


def _digest_of(message: SignableMessage) -> bytes:
    """The digest eth-account signs for ``message`` (what ``Account.sign_message`` hashes)."""
    return bytes(_hash_eip191_message(message))


def _reading(**overrides: Any) -> Reading:
    fields: dict[str, Any] = {
        "device": "0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1",
        "sequence": 7,
        "time": BASE_TIME,
        "pollutant": "w01018",
        "value": 12345,
        "decimals": 3,
        "unit": "mg/L",
        "flag": "N",
    }
    return Reading(**(fields | overrides))


# --- keccak ----------------------------------------------------------------------------------


def test_keccak_backend_is_the_c_keccak_of_safe_pysha3() -> None:
    assert KECCAK_BACKEND == "pysha3"


@given(st.binary(max_size=1000))
def test_keccak_equals_eth_hash_for_any_input(data: bytes) -> None:
    assert keccak(data) == eth_hash_keccak(data)


def test_keccak_gives_right_hashes_when_called_from_many_threads() -> None:
    inputs = [bytes([i]) * (i * 7) for i in range(64)]
    expected = [eth_hash_keccak(d) for d in inputs]
    failures: list[int] = []

    def work() -> None:
        for _ in range(200):
            for i, data in enumerate(inputs):
                if keccak(data) != expected[i]:
                    failures.append(i)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


# --- type, domain and digest -----------------------------------------------------------------


def test_reading_type_is_the_struct_the_contract_declares() -> None:
    assert READING_TYPE == (
        "Reading(address device,uint64 sequence,uint64 time,bytes8 pollutant,int256 value,"
        "uint8 decimals,bytes8 unit,bytes1 flag)"
    )
    assert eth_hash_keccak(READING_TYPE.encode()) == READING_TYPEHASH
    assert (DOMAIN_NAME, DOMAIN_VERSION) == ("ETS EmissionsLedger", "1")


def test_domain_separator_equals_eth_account_domain_hash() -> None:
    message = _eth_account_message(DOMAIN, _reading())
    assert DOMAIN.separator == message.header


def test_domain_normalises_contract_to_checksum_and_compares_by_fields() -> None:
    domain = ReadingDomain(31337, LEDGER.lower())
    assert domain.verifying_contract == LEDGER
    assert domain == DOMAIN
    assert domain.separator == DOMAIN.separator


@pytest.mark.parametrize(
    ("chain_id", "contract"),
    [(-1, LEDGER), (2**256, LEDGER), (1, "0x1234"), (1, LEDGER.replace("F", "f", 1)), (True, LEDGER)],
)
def test_domain_raises_reading_value_error_for_bad_chain_id_or_address(chain_id: Any, contract: str) -> None:
    with pytest.raises(ReadingValueError):
        ReadingDomain(chain_id, contract)


def test_reading_digest_equals_eth_account_digest_for_a_cod_reading() -> None:
    reading = _reading(value=-12345)
    message = _eth_account_message(DOMAIN, reading)
    assert message.body == keccak(
        READING_TYPEHASH
        + bytes(12)
        + bytes.fromhex(reading.device[2:])
        + (7).to_bytes(32, "big")
        + BASE_TIME.to_bytes(32, "big")
        + b"w01018".ljust(32, b"\x00")
        + (-12345).to_bytes(32, "big", signed=True)
        + (3).to_bytes(32, "big")
        + b"mg/L".ljust(32, b"\x00")
        + b"N".ljust(32, b"\x00")
    )
    assert reading_digest(DOMAIN, reading) == _digest_of(message)


@settings(max_examples=300, deadline=None)
@given(domains, readings)
def test_reading_digest_equals_eth_account_digest_for_any_reading_and_domain(
    domain: ReadingDomain, reading: Reading
) -> None:
    assert reading_digest(domain, reading) == _digest_of(_eth_account_message(domain, reading))


@settings(max_examples=50, deadline=None)
@given(domains, readings)
def test_reading_typed_data_encodes_to_the_same_digest(domain: ReadingDomain, reading: Reading) -> None:
    typed = reading_typed_data(domain, reading)
    json.dumps(typed)  # JSON-safe, as wallets take it
    assert _digest_of(encode_typed_data(full_message=typed)) == reading_digest(domain, reading)


def test_reading_digest_changes_with_every_field_and_the_domain() -> None:
    base = _reading()
    variants = [
        _reading(device="0x" + "22" * 20),
        _reading(sequence=8),
        _reading(time=BASE_TIME + 1),
        _reading(pollutant="w01019"),
        _reading(value=12346),
        _reading(decimals=2),
        _reading(unit="mg/m3"),
        _reading(flag="D"),
    ]
    digests = {reading_digest(DOMAIN, r) for r in [base, *variants]}
    digests.add(reading_digest(ReadingDomain(1, LEDGER), base))
    digests.add(reading_digest(ReadingDomain(31337, "0x" + "33" * 20), base))
    assert len(digests) == 11


def test_frame_type_is_the_struct_the_contract_declares() -> None:
    assert FRAME_TYPE == "Frame(Reading[] readings)" + READING_TYPE
    assert eth_hash_keccak(FRAME_TYPE.encode()) == FRAME_TYPEHASH


def test_reading_hash_equals_eth_account_struct_hash_for_a_cod_reading() -> None:
    reading = _reading()
    assert reading_hash(reading) == _eth_account_message(DOMAIN, reading).body
    assert reading_digest(DOMAIN, reading) == keccak(b"\x19\x01" + DOMAIN.separator + reading_hash(reading))


def test_frame_digest_hashes_the_array_of_reading_hashes_for_a_two_reading_frame() -> None:
    first, second = _reading(), _reading(sequence=8, pollutant="w21003", value=-7, decimals=0)
    hashes = [reading_hash(first), reading_hash(second)]
    expected = eth_hash_keccak(
        b"\x19\x01"
        + DOMAIN.separator
        + eth_hash_keccak(FRAME_TYPEHASH + eth_hash_keccak(hashes[0] + hashes[1]))
    )
    assert frame_digest(DOMAIN, hashes) == expected
    assert _digest_of(_eth_account_frame_message(DOMAIN, [first, second])) == expected


def test_frame_digest_depends_on_reading_order_and_the_domain() -> None:
    hashes = [reading_hash(_reading()), reading_hash(_reading(sequence=8))]
    digests = {
        frame_digest(DOMAIN, hashes),
        frame_digest(DOMAIN, hashes[::-1]),
        frame_digest(DOMAIN, hashes[:1]),
        frame_digest(ReadingDomain(1, LEDGER), hashes),
    }
    assert len(digests) == 4
    # A one-reading frame is not the reading itself: a frame signature never passes as a reading's.
    assert frame_digest(DOMAIN, hashes[:1]) != reading_digest(DOMAIN, _reading())


@settings(max_examples=60, deadline=None)
@given(
    domain=domains,
    items=st.lists(reading_fields, min_size=1, max_size=20),
    seed=st.integers(0, 1000),
    first=st.integers(0, 2**64 - 20),
)
def test_frame_digest_equals_eth_account_digest_of_frame_typed_data_for_any_frame(
    domain: ReadingDomain, items: list[ReadingFields], seed: int, first: int
) -> None:
    device = signer(seed, next_sequence=first, domain=domain)
    signed = device.sign_frame(items)
    typed = frame_typed_data(domain, signed.readings)
    json.dumps(typed)  # JSON-safe, as wallets take it
    message = encode_typed_data(full_message=typed)
    assert signed.digest == _digest_of(message)
    assert signed.digest == _digest_of(_eth_account_frame_message(domain, signed.readings))
    assert signed.digest == frame_digest(domain, signed.hashes)
    assert Account.recover_message(message, signature=signed.signature) == device.address
    assert signed.digests == tuple(reading_digest(domain, r) for r in signed.readings)


# --- decimal scaling -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.345", (12345, 3)),
        ("12.30", (1230, 2)),
        ("-0.5", (-5, 1)),
        ("+7", (7, 0)),
        ("0", (0, 0)),
        ("0.000", (0, 3)),
        (".5", (5, 1)),
        ("5.", (5, 0)),
        (" 1.0 ", (10, 1)),
        ("1e3", (1000, 0)),
        ("1.5E-2", (15, 3)),
        (Decimal("1.20"), (120, 2)),
        (Decimal("-3.1415"), (-31415, 4)),
        (Decimal("2E+2"), (200, 0)),
    ],
)
def test_scale_decimal_keeps_the_text_precision(text: str | Decimal, expected: tuple[int, int]) -> None:
    assert scale_decimal(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", " ", ".", "abc", "1.2.3", "nan", "inf", "--1", "1,5", "0x10", "1" + "0" * 80, "0." + "0" * 256],
)
def test_scale_decimal_raises_reading_value_error_for_bad_text(text: str) -> None:
    with pytest.raises(ReadingValueError):
        scale_decimal(text)


def test_scale_decimal_raises_reading_value_error_for_non_text() -> None:
    with pytest.raises(ReadingValueError):
        scale_decimal(1.5)  # type: ignore[arg-type]
    with pytest.raises(ReadingValueError):
        scale_decimal(Decimal("NaN"))


@given(
    st.integers(0, 12).flatmap(
        lambda places: st.decimals(min_value=-(10**30), max_value=10**30, places=places)
    )
)
def test_scale_decimal_round_trips_through_reading_amount(number: Decimal) -> None:
    value, decimals = scale_decimal(str(number))
    assert _reading(value=value, decimals=decimals).amount == number


# --- reading validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"sequence": -1},
        {"sequence": 2**64},
        {"sequence": True},
        {"sequence": 1.0},
        {"time": 2**64},
        {"value": 2**255},
        {"value": -(2**255) - 1},
        {"decimals": 256},
        {"decimals": -1},
        {"pollutant": ""},
        {"pollutant": "w01018xyz"},
        {"pollutant": "w0101\x00"},
        {"pollutant": "化学需氧"},
        {"pollutant": b"w01018"},
        {"unit": "kilograms"},
        {"unit": "m³"},
        {"flag": "X"},
        {"flag": "n"},
        {"flag": "NN"},
        {"flag": ""},
        {"device": "0x1234"},
        {"device": "1a642f0E3c3aF545E7AcBD38b07251B3990914F1"},
        {"device": "0x1A642f0E3c3aF545E7AcBD38b07251B3990914F1"},
        {"device": 5},
    ],
)
def test_reading_raises_reading_value_error_for_a_field_out_of_type(overrides: dict[str, Any]) -> None:
    with pytest.raises(ReadingValueError):
        _reading(**overrides)


def test_reading_accepts_type_extremes() -> None:
    reading = _reading(
        sequence=2**64 - 1, time=2**64 - 1, value=-(2**255), decimals=255, pollutant="12345678", unit=""
    )
    assert reading_digest(DOMAIN, reading) == _digest_of(_eth_account_message(DOMAIN, reading))


def test_reading_normalises_device_to_checksum() -> None:
    reading = _reading(device="0x1a642f0e3c3af545e7acbd38b07251b3990914f1")
    assert reading.device == "0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1"
    assert reading == _reading()


@pytest.mark.parametrize("flag", sorted(DATA_FLAGS))
def test_reading_accepts_every_hj212_data_flag(flag: str) -> None:
    assert _reading(flag=flag).flag == flag


def test_reading_from_text_scales_value_and_takes_aware_datetimes() -> None:
    when = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    reading = Reading.from_text(
        "12.340", device=_reading().device, sequence=7, time=when, pollutant="w01018", unit="mg/L"
    )
    assert (reading.value, reading.decimals, reading.time, reading.flag) == (12340, 3, BASE_TIME, "N")
    assert reading.amount == Decimal("12.340")


def test_reading_from_text_raises_reading_value_error_for_naive_datetime() -> None:
    with pytest.raises(ReadingValueError, match="timezone"):
        Reading.from_text(
            "1",
            device=_reading().device,
            sequence=1,
            time=datetime(2024, 1, 1),
            pollutant="w01018",
            unit="kg",
        )


def test_reading_amount_is_exact_beyond_decimal_context_precision() -> None:
    assert _reading(value=10**40 + 1, decimals=3).amount == Decimal("1" + "0" * 37 + ".001")
    assert _reading(value=-(2**255), decimals=0).amount == Decimal(-(2**255))


@given(readings)
def test_reading_json_round_trips(reading: Reading) -> None:
    assert Reading.from_json(json.loads(json.dumps(reading.to_json()))) == reading


def test_reading_from_json_raises_reading_value_error_for_missing_field() -> None:
    data = _reading().to_json()
    del data["unit"]
    with pytest.raises(ReadingValueError):
        Reading.from_json(data)


# --- device signer ---------------------------------------------------------------------------


def test_signer_address_equals_eth_account_address_of_the_key() -> None:
    key = device_key(1)
    assert DeviceSigner(key, DOMAIN).address == Account.from_key(key).address


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 1000),
    value=st.integers(-(10**12), 10**12),
    decimals=st.integers(0, 6),
    flag=st.sampled_from(sorted(DATA_FLAGS)),
)
def test_sign_gives_eth_account_signature_over_a_one_reading_frame(
    seed: int, value: int, decimals: int, flag: str
) -> None:
    device = signer(seed)
    signed = device.sign(
        time=BASE_TIME, pollutant="a21026", value=value, decimals=decimals, unit="mg/m3", flag=flag
    )
    assert len(signed) == 1
    message = _eth_account_frame_message(DOMAIN, signed.readings)
    assert signed.digest == _digest_of(message)
    assert signed.digests == (_digest_of(_eth_account_message(DOMAIN, signed.readings[0])),)
    # RFC 6979 nonces: eth-account signing the same message gives the same bytes.
    assert signed.signature == bytes(Account.sign_message(message, device_key(seed)).signature)
    assert signed.signature[64] in (27, 28)
    assert Account.recover_message(message, signature=signed.signature) == device.address


def test_sign_frame_numbers_readings_consecutively_from_next_sequence() -> None:
    device = signer(2, next_sequence=41)
    first = signed_frame(device, size=3)
    assert [r.sequence for r in first.readings] == [41, 42, 43]
    assert (first.first_sequence, first.last_sequence, len(first)) == (41, 43, 3)
    assert device.next_sequence == 44
    second = signed_frame(device, BASE_TIME + 60, size=5)
    assert [r.sequence for r in second.readings] == [44, 45, 46, 47, 48]
    assert device.next_sequence == 49
    assert {r.device for r in first.readings + second.readings} == {device.address}
    assert first.device == second.device == device.address


def test_sign_frame_keeps_the_items_fields_in_frame_order() -> None:
    items = frame_fields(size=8, base=5)
    signed = signer(2).sign_frame(iter(items))  # any iterable, consumed once
    fields = [
        ReadingFields(r.time, r.pollutant, r.value, r.decimals, r.unit, r.flag) for r in signed.readings
    ]
    assert fields == items


def test_sign_frame_accepts_plain_tuples_and_defaults_the_flag() -> None:
    signed = signer(2).sign_frame(
        [(BASE_TIME, "w01018", 1, 0, "mg/L", "D"), ReadingFields(BASE_TIME, "w01001", 7, 0, "pH")]
    )
    assert [r.flag for r in signed.readings] == ["D", "N"]


_BAD_FIELDS: list[dict[str, Any]] = [
    {"flag": "X"},
    {"pollutant": ""},
    {"unit": "kilograms"},
    {"value": 2**255},
    {"decimals": 256},
    {"time": -1},
    {"time": 1.5},
]


@pytest.mark.parametrize("bad", _BAD_FIELDS)
@pytest.mark.parametrize("position", [0, 3, 7])
def test_sign_frame_raises_reading_value_error_and_uses_no_sequence_when_any_item_is_bad(
    bad: dict[str, Any], position: int
) -> None:
    device = signer(3, next_sequence=10)
    items = frame_fields(size=8)
    items[position] = items[position]._replace(**bad)
    with pytest.raises(ReadingValueError):
        device.sign_frame(items)
    assert device.next_sequence == 10
    assert signed_frame(device, size=2).first_sequence == 10


@pytest.mark.parametrize("items", [[], (), iter([])])
def test_sign_frame_raises_reading_value_error_for_no_items(items: Any) -> None:
    device = signer(3, next_sequence=10)
    with pytest.raises(ReadingValueError, match="at least one"):
        device.sign_frame(items)
    assert device.next_sequence == 10


def test_sign_uses_no_sequence_when_a_field_is_bad() -> None:
    device = signer(3)
    with pytest.raises(ReadingValueError):
        device.sign(time=BASE_TIME, pollutant="w01018", value=1, decimals=0, unit="kg", flag="X")
    assert device.next_sequence == 1


def test_sign_text_scales_decimal_text() -> None:
    signed = signer(4).sign_text(time=BASE_TIME, pollutant="w01018", value_text="-0.050", unit="mg/L")
    assert (signed.readings[0].value, signed.readings[0].decimals) == (-50, 3)


def test_sign_takes_aware_datetimes_in_any_zone() -> None:
    beijing = timezone(timedelta(hours=8))
    when = datetime(2023, 11, 15, 6, 13, 20, tzinfo=beijing)
    signed = signer(5).sign(time=when, pollutant="w01018", value=1, decimals=0, unit="kg")
    assert signed.readings[0].time == BASE_TIME


def test_sign_raises_reading_value_error_for_naive_datetime_and_uses_no_sequence() -> None:
    device = signer(5)
    with pytest.raises(ReadingValueError, match="timezone"):
        device.sign(time=datetime(2024, 1, 1), pollutant="w01018", value=1, decimals=0, unit="kg")
    assert device.next_sequence == 1


def test_sign_frame_gives_unique_consecutive_sequences_when_called_from_many_threads() -> None:
    device = signer(6)
    results: list[SignedFrame] = []
    lock = threading.Lock()

    def work() -> None:
        mine = [signed_frame(device, size=8), signed_frame(device, size=8)]
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.sequence for f in results for r in f.readings) == list(range(1, 129))
    assert all(f.last_sequence - f.first_sequence == 7 for f in results)
    assert device.next_sequence == 129


def test_sign_frame_raises_reading_value_error_when_sequence_is_exhausted() -> None:
    device = signer(7, next_sequence=2**64 - 2)
    with pytest.raises(ReadingValueError, match="exhausted"):
        signed_frame(device, size=3)
    assert device.next_sequence == 2**64 - 2
    assert signed_frame(device, size=2).last_sequence == 2**64 - 1
    with pytest.raises(ReadingValueError, match="exhausted"):
        signed_frame(device, size=1)


def test_signer_repr_and_pickle_never_show_the_key_or_signature() -> None:
    key = device_key(8)
    device = DeviceSigner(key, DOMAIN)
    assert key.hex() not in repr(device)
    assert device.address in repr(device)
    with pytest.raises(TypeError):
        pickle.dumps(device)
    signed = signed_frame(device, size=2)
    assert signed.signature not in repr(signed).encode()
    assert repr(signed.signature) not in repr(signed)
    for reading in signed.signed_readings():
        assert repr(signed.signature) not in repr(reading)
        assert repr(signed.signature) not in repr(reading.witness)


def test_signer_accepts_hex_and_coincurve_keys() -> None:
    key = device_key(9)
    expected = DeviceSigner(key, DOMAIN).address
    assert DeviceSigner("0x" + key.hex(), DOMAIN).address == expected
    assert DeviceSigner(key.hex(), DOMAIN).address == expected
    assert DeviceSigner(PrivateKey(key), DOMAIN).address == expected


@pytest.mark.parametrize(
    "key",
    [b"", b"\x01" * 31, b"\x00" * 32, SECP256K1_N.to_bytes(32, "big"), "0xzz", "12" * 33, 5],
)
def test_signer_raises_device_key_error_for_bad_keys(key: Any) -> None:
    with pytest.raises(DeviceKeyError):
        DeviceSigner(key, DOMAIN)


def test_signer_raises_reading_value_error_for_bad_next_sequence() -> None:
    with pytest.raises(ReadingValueError):
        signer(next_sequence=-1)


def _keystore(tmp_path: Path, key: bytes, password: str) -> Path:
    path = tmp_path / "device.json"
    path.write_text(json.dumps(Account.encrypt(key, password, kdf="pbkdf2", iterations=2)))
    return path


def test_signer_from_keystore_loads_the_device_key(tmp_path: Path) -> None:
    key = device_key(10)
    path = _keystore(tmp_path, key, "s3cret")
    device = DeviceSigner.from_keystore(path, "s3cret", DOMAIN, next_sequence=100)
    assert device.address == Account.from_key(key).address
    assert device.next_sequence == 100


def test_signer_from_keystore_raises_device_key_error_for_wrong_password(tmp_path: Path) -> None:
    path = _keystore(tmp_path, device_key(11), "right")
    with pytest.raises(DeviceKeyError) as caught:
        DeviceSigner.from_keystore(path, "wrong", DOMAIN)
    assert device_key(11).hex() not in str(caught.value)


def test_signer_from_keystore_raises_device_key_error_for_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DeviceKeyError):
        DeviceSigner.from_keystore(tmp_path / "absent.json", "x", DOMAIN)


# --- signed frames and witnesses -------------------------------------------------------------


def _signed_frame(seed: int = 20, *, size: int = 8) -> tuple[DeviceSigner, SignedFrame]:
    device = signer(seed)
    return device, signed_frame(device, size=size)


def _with_value(reading: Reading, value: int) -> Reading:
    return dataclasses.replace(reading, value=value)


def _signature_by(seed: int, digest: bytes) -> bytes:
    raw = PrivateKey(device_key(seed)).sign_recoverable(digest, hasher=None)
    return raw[:64] + bytes((raw[64] + 27,))


def _rewitnessed(
    piece: SignedReading, hashes: Sequence[bytes], index: int, signature: bytes
) -> SignedReading:
    """``piece`` with its reading and digest kept and another witness."""
    return SignedReading(piece.reading, piece.digest, FrameWitness(tuple(hashes), index, signature))


def _high_s(signature: bytes) -> bytes:
    """The malleable twin of a signature: ``s`` -> ``n - s`` and ``v`` flipped (recovers the same key)."""
    s = int.from_bytes(signature[32:64], "big")
    return signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes((55 - signature[64],))


def test_signed_frame_of_computes_the_hashes_and_digests_the_signer_gave() -> None:
    _, signed = _signed_frame()
    again = SignedFrame.of(DOMAIN, list(signed.readings), signed.signature)
    assert again == signed
    assert again.hashes == signed.hashes == tuple(reading_hash(r) for r in signed.readings)
    assert again.digests == signed.digests == tuple(reading_digest(DOMAIN, r) for r in signed.readings)
    assert again.digest == signed.digest == frame_digest(DOMAIN, signed.hashes)


def test_signed_frame_raises_reading_value_error_for_readings_of_two_devices() -> None:
    _, signed = _signed_frame(size=3)
    other = signed_frame(signer(21, next_sequence=signed.first_sequence), size=3)
    mixed = [signed.readings[0], other.readings[1], signed.readings[2]]
    with pytest.raises(ReadingValueError, match="one device"):
        SignedFrame.of(DOMAIN, mixed, signed.signature)


@pytest.mark.parametrize("sequences", [[1, 2, 4], [1, 1, 2], [3, 2, 1], [2, 3, 4, 6]])
def test_signed_frame_raises_reading_value_error_for_non_consecutive_sequences(sequences: list[int]) -> None:
    _, signed = _signed_frame()
    readings_ = [dataclasses.replace(signed.readings[0], sequence=s) for s in sequences]
    with pytest.raises(ReadingValueError, match="consecutive"):
        SignedFrame.of(DOMAIN, readings_, signed.signature)


def test_signed_frame_raises_reading_value_error_for_no_readings() -> None:
    _, signed = _signed_frame()
    with pytest.raises(ReadingValueError, match="at least one"):
        SignedFrame.of(DOMAIN, [], signed.signature)


@pytest.mark.parametrize("size", [0, 64, 66, 130])
def test_signed_frame_raises_reading_signature_error_for_a_signature_not_65_bytes(size: int) -> None:
    _, signed = _signed_frame()
    signature = (signed.signature * 2)[:size]
    with pytest.raises(ReadingSignatureError, match="65 bytes"):
        SignedFrame.of(DOMAIN, signed.readings, signature)
    with pytest.raises(ReadingSignatureError, match="65 bytes"):
        dataclasses.replace(signed, signature=signature)


def test_signed_frame_raises_reading_value_error_for_hashes_not_one_per_reading() -> None:
    _, signed = _signed_frame()
    with pytest.raises(ReadingValueError):
        dataclasses.replace(signed, hashes=signed.hashes[:-1])
    with pytest.raises(ReadingValueError):
        dataclasses.replace(signed, digests=(*signed.digests, signed.digests[0]))


def test_signed_frame_signed_readings_carry_their_digest_and_witness() -> None:
    _, signed = _signed_frame()
    pieces = signed.signed_readings()
    assert [p.reading for p in pieces] == list(signed.readings)
    for i, piece in enumerate(pieces):
        assert piece.digest == signed.digests[i]
        assert piece.witness == signed.witness(i) == FrameWitness(signed.hashes, i, signed.signature)
        assert piece.signature == signed.signature
        assert (piece.device, piece.sequence) == (signed.device, signed.first_sequence + i)


@pytest.mark.parametrize("index", [-1, 8, 100])
def test_frame_witness_raises_reading_signature_error_for_an_index_outside_the_frame(index: int) -> None:
    _, signed = _signed_frame()
    with pytest.raises(ReadingSignatureError, match="index"):
        FrameWitness(signed.hashes, index, signed.signature)


def test_frame_witness_raises_reading_signature_error_for_bad_hashes_or_signature() -> None:
    _, signed = _signed_frame()
    with pytest.raises(ReadingSignatureError):
        FrameWitness((*signed.hashes[:-1], signed.hashes[-1][:31]), 0, signed.signature)
    with pytest.raises(ReadingSignatureError):
        FrameWitness((), 0, signed.signature)
    with pytest.raises(ReadingSignatureError, match="65 bytes"):
        FrameWitness(signed.hashes, 0, signed.signature[:64])


# --- frame recovery and verification ---------------------------------------------------------


def test_recover_frame_signer_returns_the_device_address() -> None:
    device, signed = _signed_frame()
    assert recover_frame_signer(DOMAIN, signed) == device.address
    verify_frame(DOMAIN, signed, device.address)
    verify_frame(DOMAIN, signed, device.address.lower())


def test_verify_frame_raises_reading_signature_error_for_another_expected_device() -> None:
    _, signed = _signed_frame()
    with pytest.raises(ReadingSignatureError, match="another device"):
        verify_frame(DOMAIN, signed, signer(21).address)


def test_verify_frame_raises_reading_value_error_for_an_expected_device_not_an_address() -> None:
    _, signed = _signed_frame()
    with pytest.raises(ReadingValueError):
        verify_frame(DOMAIN, signed, "0x1234")


def test_verify_frame_raises_reading_signature_error_when_another_device_signed() -> None:
    device, signed = _signed_frame()
    forged = dataclasses.replace(signed, signature=_signature_by(22, signed.digest))
    assert recover_frame_signer(DOMAIN, forged) == signer(22).address
    with pytest.raises(ReadingSignatureError, match="signed by"):
        verify_frame(DOMAIN, forged, device.address)


def test_verify_frame_raises_reading_signature_error_for_another_frames_signature() -> None:
    device, signed = _signed_frame()
    later = signed_frame(device, BASE_TIME + 60)
    with pytest.raises(ReadingSignatureError, match="signed by"):
        verify_frame(DOMAIN, dataclasses.replace(signed, signature=later.signature), device.address)


_ALTERATIONS: list[dict[str, Any]] = [
    {"value": 346},
    {"value": -345},
    {"time": BASE_TIME + 1},
    {"flag": "D"},
    {"decimals": 1},
    {"pollutant": "w01019"},
    {"unit": "mg/m3"},
]


@pytest.mark.parametrize("change", _ALTERATIONS)
@pytest.mark.parametrize("index", [0, 2])
def test_verify_frame_raises_reading_signature_error_for_an_altered_reading(
    change: dict[str, Any], index: int
) -> None:
    device, signed = _signed_frame()
    altered = list(signed.readings)
    altered[index] = dataclasses.replace(altered[index], **change)
    assert altered[index] != signed.readings[index]
    rehashed = SignedFrame.of(DOMAIN, altered, signed.signature)
    with pytest.raises(ReadingSignatureError):
        verify_frame(DOMAIN, rehashed, device.address)
    stale = SignedFrame(tuple(altered), signed.signature, signed.hashes, signed.digests, signed.digest)
    with pytest.raises(ReadingDigestMismatchError):
        verify_frame(DOMAIN, stale, device.address)


def test_verify_frame_raises_digest_mismatch_for_altered_stored_digests() -> None:
    device, signed = _signed_frame()
    other = signed_frame(device, BASE_TIME + 60)
    alterations = [
        {"hashes": (other.hashes[0], *signed.hashes[1:])},
        {"digests": (*signed.digests[:-1], other.digests[-1])},
        {"digest": other.digest},
    ]
    for change in alterations:
        with pytest.raises(ReadingDigestMismatchError, match="stored digests"):
            verify_frame(DOMAIN, dataclasses.replace(signed, **change), device.address)
    # Stored digests and signature both of the other frame: the readings still give it away.
    swapped = dataclasses.replace(other, readings=signed.readings)
    with pytest.raises(ReadingDigestMismatchError):
        verify_frame(DOMAIN, swapped, device.address)


def test_verify_frame_raises_digest_mismatch_under_another_domain() -> None:
    device, signed = _signed_frame()
    other_domain = ReadingDomain(1, LEDGER)
    with pytest.raises(ReadingDigestMismatchError):
        verify_frame(other_domain, signed, device.address)
    rehashed = SignedFrame.of(other_domain, signed.readings, signed.signature)
    with pytest.raises(ReadingSignatureError, match="signed by"):
        verify_frame(other_domain, rehashed, device.address)
    assert issubclass(ReadingDigestMismatchError, ReadingSignatureError)


def test_recover_frame_signer_raises_reading_signature_error_for_high_s() -> None:
    device, signed = _signed_frame(seed=20)
    malleable = _high_s(signed.signature)
    # The twin is a valid ECDSA signature of the same key: only the low-s rule refuses it.
    raw = malleable[:64] + bytes((malleable[64] - 27,))
    assert PrivateKey(device_key(20)).public_key.format() == (
        PublicKey.from_signature_and_message(raw, signed.digest, hasher=None).format()
    )
    with pytest.raises(ReadingSignatureError, match="upper half"):
        recover_frame_signer(DOMAIN, dataclasses.replace(signed, signature=malleable))
    with pytest.raises(ReadingSignatureError, match="upper half"):
        verify_frame(DOMAIN, dataclasses.replace(signed, signature=malleable), device.address)


@pytest.mark.parametrize("v", [0, 1, 26, 29, 255])
def test_recover_frame_signer_raises_reading_signature_error_for_v_not_27_or_28(v: int) -> None:
    _, signed = _signed_frame()
    bad = dataclasses.replace(signed, signature=signed.signature[:64] + bytes((v,)))
    with pytest.raises(ReadingSignatureError, match="27 or 28"):
        recover_frame_signer(DOMAIN, bad)


@pytest.mark.parametrize("part", ["r", "s"])
def test_recover_frame_signer_raises_reading_signature_error_for_zero_r_or_s(part: str) -> None:
    _, signed = _signed_frame()
    sig = signed.signature
    zeroed = bytes(32) + sig[32:] if part == "r" else sig[:32] + bytes(32) + sig[64:]
    with pytest.raises(ReadingSignatureError, match="recover"):
        recover_frame_signer(DOMAIN, dataclasses.replace(signed, signature=zeroed))


# --- single-reading recovery through the witness ---------------------------------------------


def test_recover_signer_returns_the_device_address_for_every_reading_of_the_frame() -> None:
    device, signed = _signed_frame()
    for piece in signed.signed_readings():
        assert recover_signer(DOMAIN, piece) == device.address
        verify(DOMAIN, piece, device.address)
        verify(DOMAIN, piece, device.address.lower())


def test_recover_signer_returns_the_device_address_for_a_one_reading_frame() -> None:
    device = signer(20)
    (piece,) = device.sign(
        time=BASE_TIME, pollutant="w01018", value=1, decimals=0, unit="kg"
    ).signed_readings()
    assert recover_signer(DOMAIN, piece) == device.address


def test_verify_raises_reading_signature_error_for_another_expected_device() -> None:
    _, signed = _signed_frame()
    with pytest.raises(ReadingSignatureError, match="another device"):
        verify(DOMAIN, signed.signed_readings()[0], signer(21).address)


@pytest.mark.parametrize(("index", "claimed"), [(0, 1), (3, 2), (7, 0)])
def test_verify_raises_digest_mismatch_for_a_witness_with_the_wrong_index(index: int, claimed: int) -> None:
    device, signed = _signed_frame()
    piece = signed.signed_readings()[index]
    bad = SignedReading(piece.reading, piece.digest, signed.witness(claimed))
    with pytest.raises(ReadingDigestMismatchError, match="place in the frame"):
        verify(DOMAIN, bad, device.address)


def test_verify_raises_reading_signature_error_for_altered_witness_hashes() -> None:
    device, signed = _signed_frame()
    piece = signed.signed_readings()[2]
    other = signed_frame(device, BASE_TIME + 60)
    # Another reading's hash altered: the frame digest changes, another key recovers.
    hashes = list(signed.hashes)
    hashes[5] = other.hashes[5]
    with pytest.raises(ReadingSignatureError, match="signed by"):
        verify(
            DOMAIN,
            _rewitnessed(piece, hashes, 2, signed.signature),
            device.address,
        )
    # A hash dropped or added: likewise.
    for changed in (signed.hashes[:-1], (*signed.hashes, other.hashes[0])):
        with pytest.raises(ReadingSignatureError, match="signed by"):
            verify(
                DOMAIN,
                _rewitnessed(piece, changed, 2, signed.signature),
                device.address,
            )
    # Its own hash altered: it is not found at its place.
    hashes = list(signed.hashes)
    hashes[2] = other.hashes[2]
    with pytest.raises(ReadingDigestMismatchError):
        verify(
            DOMAIN,
            _rewitnessed(piece, hashes, 2, signed.signature),
            device.address,
        )


def test_verify_raises_reading_signature_error_for_a_reading_swapped_within_its_frame() -> None:
    device, signed = _signed_frame()
    pieces = signed.signed_readings()
    # Reading 5 presented with reading 2's witness: not at its place.
    with pytest.raises(ReadingDigestMismatchError):
        verify(DOMAIN, SignedReading(pieces[5].reading, pieces[5].digest, signed.witness(2)), device.address)
    # Readings 2 and 5 swapped in the witness too, so each is found at the wrong index: the frame
    # digest changes and the signature no longer recovers the device.
    hashes = list(signed.hashes)
    hashes[2], hashes[5] = hashes[5], hashes[2]
    swapped = SignedReading(
        pieces[5].reading, pieces[5].digest, FrameWitness(tuple(hashes), 2, signed.signature)
    )
    with pytest.raises(ReadingSignatureError, match="signed by"):
        verify(DOMAIN, swapped, device.address)


def test_verify_raises_digest_mismatch_for_an_altered_value_or_stored_digest() -> None:
    device, signed = _signed_frame()
    piece = signed.signed_readings()[4]
    tampered = SignedReading(_with_value(piece.reading, piece.reading.value + 1), piece.digest, piece.witness)
    with pytest.raises(ReadingDigestMismatchError):
        verify(DOMAIN, tampered, device.address)
    with pytest.raises(ReadingSignatureError, match="a digest is 32 bytes"):
        SignedReading(piece.reading, piece.digest[:31], piece.witness)
    for digest in (signed.digests[3], bytes(32)):
        with pytest.raises(ReadingDigestMismatchError, match="stored digest"):
            verify(DOMAIN, SignedReading(piece.reading, digest, piece.witness), device.address)


def test_verify_raises_reading_signature_error_for_an_altered_value_with_matching_witness() -> None:
    device, signed = _signed_frame()
    piece = signed.signed_readings()[4]
    changed = _with_value(piece.reading, piece.reading.value + 1)
    hashes = list(signed.hashes)
    hashes[4] = reading_hash(changed)
    tampered = SignedReading(
        changed, reading_digest(DOMAIN, changed), FrameWitness(tuple(hashes), 4, signed.signature)
    )
    with pytest.raises(ReadingSignatureError, match="signed by"):
        verify(DOMAIN, tampered, device.address)


def test_verify_raises_reading_signature_error_when_another_device_signed_the_frame() -> None:
    device, signed = _signed_frame()
    forged = FrameWitness(signed.hashes, 1, _signature_by(22, signed.digest))
    piece = signed.signed_readings()[1]
    with pytest.raises(ReadingSignatureError, match="signed by"):
        verify(DOMAIN, SignedReading(piece.reading, piece.digest, forged), device.address)


def test_verify_raises_digest_mismatch_under_another_domain() -> None:
    device, signed = _signed_frame()
    with pytest.raises(ReadingDigestMismatchError):
        verify(ReadingDomain(1, LEDGER), signed.signed_readings()[0], device.address)


def test_verify_raises_reading_signature_error_for_a_signature_of_the_reading_digest() -> None:
    device, signed = _signed_frame(size=1)
    piece = signed.signed_readings()[0]
    # What a per-reading signer would have produced: a signature of the reading digest itself.
    old_style = FrameWitness(signed.hashes, 0, _signature_by(20, piece.digest))
    with pytest.raises(ReadingSignatureError, match="signed by"):
        verify(DOMAIN, SignedReading(piece.reading, piece.digest, old_style), device.address)


@pytest.mark.parametrize("v", [0, 1, 26, 29])
def test_recover_signer_raises_reading_signature_error_for_v_not_27_or_28(v: int) -> None:
    _, signed = _signed_frame()
    piece = signed.signed_readings()[0]
    bad = FrameWitness(signed.hashes, 0, signed.signature[:64] + bytes((v,)))
    with pytest.raises(ReadingSignatureError, match="27 or 28"):
        recover_signer(DOMAIN, SignedReading(piece.reading, piece.digest, bad))


def test_recover_signer_raises_reading_signature_error_for_high_s() -> None:
    _, signed = _signed_frame()
    piece = signed.signed_readings()[6]
    bad = FrameWitness(signed.hashes, 6, _high_s(signed.signature))
    with pytest.raises(ReadingSignatureError, match="upper half"):
        recover_signer(DOMAIN, SignedReading(piece.reading, piece.digest, bad))


# --- JSON forms ------------------------------------------------------------------------------


def test_signed_frame_json_round_trips_and_still_verifies() -> None:
    device, signed = _signed_frame()
    again = SignedFrame.from_json(DOMAIN, json.loads(json.dumps(signed.to_json())))
    assert again == signed
    assert (again.hashes, again.digests, again.digest) == (signed.hashes, signed.digests, signed.digest)
    verify_frame(DOMAIN, again, device.address)
    assert signed.to_json()["signature"] == "0x" + signed.signature.hex()


def test_signed_frame_from_json_hashes_under_the_given_domain() -> None:
    device, signed = _signed_frame()
    other_domain = ReadingDomain(1, LEDGER)
    again = SignedFrame.from_json(other_domain, signed.to_json())
    assert again.digests == tuple(reading_digest(other_domain, r) for r in signed.readings)
    with pytest.raises(ReadingSignatureError, match="signed by"):
        verify_frame(other_domain, again, device.address)


def _frame_json() -> dict[str, Any]:
    return _signed_frame(size=3)[1].to_json()


def _without(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != key}


def _reading_changed(data: dict[str, Any], index: int, **change: Any) -> dict[str, Any]:
    readings_ = [dict(r) for r in data["readings"]]
    readings_[index] |= change
    return data | {"readings": readings_}


_BAD_FRAME_JSON: list[tuple[str, Any, type[Exception]]] = [
    ("no signature", lambda d: _without(d, "signature"), ReadingSignatureError),
    ("signature not hex", lambda d: d | {"signature": "0xnothex"}, ReadingSignatureError),
    ("signature a number", lambda d: d | {"signature": 5}, ReadingSignatureError),
    ("signature 64 bytes", lambda d: d | {"signature": d["signature"][:-2]}, ReadingSignatureError),
    ("no readings", lambda d: _without(d, "readings"), ReadingSignatureError),
    ("readings not a list", lambda d: d | {"readings": 5}, ReadingSignatureError),
    ("readings null", lambda d: d | {"readings": None}, ReadingSignatureError),
    ("not an object", lambda d: [d], ReadingSignatureError),
    ("empty readings", lambda d: d | {"readings": []}, ReadingValueError),
    ("reading not an object", lambda d: d | {"readings": ["x"]}, ReadingValueError),
    (
        "reading missing a field",
        lambda d: d | {"readings": [_without(d["readings"][0], "unit")]},
        ReadingValueError,
    ),
    ("bad flag", lambda d: _reading_changed(d, 1, flag="X"), ReadingValueError),
    ("value not an integer", lambda d: _reading_changed(d, 0, value="12.5"), ReadingValueError),
    ("two devices", lambda d: _reading_changed(d, 2, device="0x" + "bb" * 20), ReadingValueError),
    (
        "sequence gap",
        lambda d: _reading_changed(d, 2, sequence=d["readings"][2]["sequence"] + 1),
        ReadingValueError,
    ),
]


@pytest.mark.parametrize(
    ("mangle", "error"), [(m, e) for _, m, e in _BAD_FRAME_JSON], ids=[n for n, _, _ in _BAD_FRAME_JSON]
)
def test_signed_frame_from_json_raises_reading_errors_for_malformed_json(
    mangle: Any, error: type[Exception]
) -> None:
    with pytest.raises(error):
        SignedFrame.from_json(DOMAIN, mangle(_frame_json()))


def test_frame_witness_json_round_trips_and_still_verifies() -> None:
    device, signed = _signed_frame()
    for piece in signed.signed_readings():
        data = json.loads(json.dumps(piece.witness.to_json()))
        assert data["index"] == piece.witness.index
        again = FrameWitness.from_json(data)
        assert again == piece.witness
        verify(DOMAIN, SignedReading(piece.reading, piece.digest, again), device.address)


@pytest.mark.parametrize(
    "change",
    [
        {"signature": "0xnothex"},
        {"signature": "0x" + "11" * 64},
        {"hashes": ["0xzz"]},
        {"hashes": ["0x" + "11" * 31]},
        {"hashes": 5},
        {"index": "first"},
        {"index": 8},
        {"index": None},
    ],
)
def test_frame_witness_from_json_raises_reading_signature_error_for_malformed_json(
    change: dict[str, Any],
) -> None:
    _, signed = _signed_frame()
    with pytest.raises(ReadingSignatureError):
        FrameWitness.from_json(signed.witness(0).to_json() | change)


@pytest.mark.parametrize("key", ["hashes", "index", "signature"])
def test_frame_witness_from_json_raises_reading_signature_error_for_a_missing_field(key: str) -> None:
    _, signed = _signed_frame()
    with pytest.raises(ReadingSignatureError):
        FrameWitness.from_json(_without(signed.witness(0).to_json(), key))


# --- tamper property -------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(
    items=st.lists(reading_fields, min_size=1, max_size=12),
    seed=st.integers(0, 1000),
    data=st.data(),
)
def test_signed_frame_verifies_and_any_single_bit_change_fails_for_any_frame(
    items: list[ReadingFields], seed: int, data: st.DataObject
) -> None:
    device = signer(seed)
    signed = device.sign_frame(items)
    verify_frame(DOMAIN, signed, device.address)
    pieces = signed.signed_readings()
    for piece in pieces:
        verify(DOMAIN, piece, device.address)

    # One bit of the signature flipped: neither the frame nor any of its readings verifies.
    bit = data.draw(st.integers(0, 65 * 8 - 1), label="signature bit")
    flipped = bytearray(signed.signature)
    flipped[bit // 8] ^= 1 << (bit % 8)
    bad_signature = bytes(flipped)
    with pytest.raises(ReadingSignatureError):
        verify_frame(DOMAIN, dataclasses.replace(signed, signature=bad_signature), device.address)
    index = data.draw(st.integers(0, len(pieces) - 1), label="reading")
    piece = pieces[index]
    with pytest.raises(ReadingSignatureError):
        verify(
            DOMAIN,
            _rewitnessed(piece, signed.hashes, index, bad_signature),
            device.address,
        )

    # One bit of a reading's value flipped (in its int256 two's complement): likewise, whether
    # the stored digests are kept or recomputed.
    value_bit = data.draw(st.integers(0, 255), label="value bit")
    word = (piece.reading.value % (1 << 256)) ^ (1 << value_bit)
    changed = _with_value(piece.reading, word - (1 << 256) if word >= 1 << 255 else word)
    altered = list(signed.readings)
    altered[index] = changed
    with pytest.raises(ReadingSignatureError):
        verify_frame(DOMAIN, SignedFrame.of(DOMAIN, altered, signed.signature), device.address)
    with pytest.raises(ReadingDigestMismatchError):
        verify_frame(DOMAIN, dataclasses.replace(signed, readings=tuple(altered)), device.address)
    with pytest.raises(ReadingDigestMismatchError):
        verify(DOMAIN, SignedReading(changed, piece.digest, piece.witness), device.address)
    hashes = list(signed.hashes)
    hashes[index] = reading_hash(changed)
    rewitnessed = SignedReading(
        changed, reading_digest(DOMAIN, changed), FrameWitness(tuple(hashes), index, signed.signature)
    )
    with pytest.raises(ReadingSignatureError):
        verify(DOMAIN, rewitnessed, device.address)


# --- sequence tracking -----------------------------------------------------------------------

DEVICE_A = "0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1"
DEVICE_B = "0x" + "bb" * 20


def test_sequence_tracker_accepts_consecutive_sequences_without_gaps() -> None:
    tracker = SequenceTracker()
    assert [tracker.accept(DEVICE_A, s) for s in (5, 6, 7)] == [None, None, None]
    assert tracker.last_seen(DEVICE_A) == 7
    assert list(tracker.gaps) == []


@pytest.mark.parametrize("sequence", [7, 6, 0])
def test_sequence_tracker_raises_replay_error_for_sequence_at_or_below_last(sequence: int) -> None:
    tracker = SequenceTracker({DEVICE_A: 7})
    with pytest.raises(ReadingReplayError, match=f"sequence {sequence}"):
        tracker.accept(DEVICE_A, sequence)
    assert tracker.last_seen(DEVICE_A) == 7


def test_sequence_tracker_reports_and_records_gaps() -> None:
    tracker = SequenceTracker({DEVICE_A: 7})
    gap = tracker.accept(DEVICE_A, 11)
    assert gap == SequenceGap(DEVICE_A, 8, 11)
    assert gap.missing == 3
    assert list(tracker.gaps) == [gap]
    assert tracker.accept(DEVICE_A, 12) is None


def test_sequence_tracker_keeps_devices_apart_and_ignores_address_case() -> None:
    tracker = SequenceTracker()
    tracker.accept(DEVICE_A, 10)
    assert tracker.accept(DEVICE_B, 1) is None
    with pytest.raises(ReadingReplayError):
        tracker.accept(DEVICE_A.lower(), 10)
    assert tracker.last_seen(DEVICE_B.upper().replace("0X", "0x")) == 1
    assert tracker.last_seen("0x" + "cc" * 20) is None


def test_sequence_tracker_bounds_recorded_gaps() -> None:
    tracker = SequenceTracker(max_gaps=2)
    for s in (1, 3, 5, 7):
        tracker.accept(DEVICE_A, s)
    assert [g.received for g in tracker.gaps] == [5, 7]


def test_sequence_tracker_accept_reading_uses_the_readings_device_and_sequence() -> None:
    device = signer(30)
    signed = signed_frame(device, size=2).signed_readings()
    tracker = SequenceTracker()
    tracker.accept_reading(signed[1])
    assert tracker.last_seen(device.address) == 2
    with pytest.raises(ReadingReplayError):
        tracker.accept_reading(signed[0])


def test_sequence_tracker_accepts_a_frames_readings_in_order_without_gaps() -> None:
    device = signer(30)
    tracker = SequenceTracker()
    first, second = signed_frame(device, size=8), signed_frame(device, BASE_TIME + 60, size=8)
    results = [tracker.accept_reading(s) for f in (first, second) for s in f.signed_readings()]
    assert results == [None] * 16
    assert tracker.last_seen(device.address) == second.last_sequence == 16


# --- Merkle leaves ---------------------------------------------------------------------------


def test_leaf_is_the_reading_digest_under_bytes32_encoding() -> None:
    _, frame_ = _signed_frame(size=1)
    signed = frame_.signed_readings()[0]
    assert signed.digest == reading_digest(DOMAIN, signed.reading) != frame_.digest
    assert leaf(signed) == [signed.digest]
    assert LEAF_ENCODING == ("bytes32",)
    tree = StandardMerkleTree.of([leaf(signed)], LEAF_ENCODING)
    assert tree.leaf_hash(leaf(signed)) == "0x" + leaf_hash(signed.digest).hex()
    assert leaf_hash(signed.digest) == eth_hash_keccak(eth_hash_keccak(signed.digest))


def test_batch_tree_proves_every_reading_against_its_root() -> None:
    device = signer(31)
    frames = [signed_frame(device, size=8), signed_frame(device, BASE_TIME + 60, size=5)]
    signed = [s for f in frames for s in f.signed_readings()]
    tree = batch_tree(signed)
    for i, s in enumerate(signed):
        proof = tree.get_proof(i)
        assert process_proof(leaf_hash(s.digest), proof) == tree.root
        assert StandardMerkleTree.verify_proof(tree.root, ["bytes32"], ["0x" + s.digest.hex()], proof)
    assert batch_root([s.digest for s in signed]) == bytes.fromhex(tree.root[2:])
    assert batch_root([*frames[0].digests, *frames[1].digests]) == bytes.fromhex(tree.root[2:])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70, unique=True))
def test_batch_root_equals_standard_tree_root_for_any_digests(digests: list[bytes]) -> None:
    expected = StandardMerkleTree.of([[d] for d in digests], LEAF_ENCODING).root
    assert "0x" + batch_root(digests).hex() == expected


def test_batch_root_raises_merkle_errors_for_no_or_bad_digests() -> None:
    with pytest.raises(MerkleEmptyTreeError):
        batch_root([])
    with pytest.raises(MerkleLeafEncodingError):
        batch_root([b"\x01" * 31])
    with pytest.raises(MerkleEmptyTreeError):
        batch_tree([])


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (ReadingValueError, ValueError),
        (ReadingSignatureError, ValueError),
        (ReadingDigestMismatchError, ValueError),
        (ReadingReplayError, ValueError),
        (DeviceKeyError, ValueError),
    ],
)
def test_signing_errors_are_oracle_errors_refining_a_builtin(
    error: type[Exception], builtin: type[Exception]
) -> None:
    assert issubclass(error, OracleError)
    assert issubclass(error, EtsError)
    assert issubclass(error, builtin)
    assert error.__doc__ and "\n" not in error.__doc__.strip()


@pytest.mark.parametrize("item", [(1, "w01018"), (1, "w01018", 5, 0, "kg", "N", "extra"), {"time": 1}])
def test_sign_frame_raises_reading_value_error_for_an_item_of_the_wrong_shape(item: object) -> None:
    device = signer(61)
    with pytest.raises(ReadingValueError, match="frame item"):
        device.sign_frame([item])  # type: ignore[list-item]
    assert device.next_sequence == 1


def test_signed_frame_refuses_hashes_or_digests_that_are_not_32_bytes() -> None:
    good = signer(62).sign_frame([ReadingFields(BASE_TIME, "w01018", 5, 0, "kg")] * 2)
    for field_name, value in (
        ("hashes", (good.hashes[0], good.hashes[1][:31])),
        ("digests", (good.digests[0][:31], good.digests[1])),
        ("digest", good.digest + b"\x00"),
    ):
        with pytest.raises(ReadingValueError, match="32 bytes"):
            dataclasses.replace(good, **{field_name: value})


@pytest.mark.parametrize("index", [1.9, "1", True, None])
def test_frame_witness_from_json_refuses_an_index_that_is_not_an_int(index: object) -> None:
    witness = signer(63).sign_frame([ReadingFields(BASE_TIME, "w01018", 5, 0, "kg")] * 3).witness(1)
    data = witness.to_json() | {"index": index}
    with pytest.raises(ReadingSignatureError):
        FrameWitness.from_json(data)
