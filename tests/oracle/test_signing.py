"""Tests of reading signatures: hand-computed EIP-712 digests, device signers, recovery, leaves."""

from __future__ import annotations

import json
import pickle
import threading
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from coincurve import PrivateKey
from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_hash.auto import keccak as eth_hash_keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from ets.errors import EtsError
from oracle.errors import (
    DeviceKeyError,
    MerkleEmptyTreeError,
    MerkleLeafEncodingError,
    OracleError,
    ReadingDigestMismatchError,
    ReadingReplayError,
    ReadingSignatureError,
    ReadingValueError,
)
from oracle.merkle import StandardMerkleTree, process_proof
from oracle.signing import (
    DATA_FLAGS,
    DOMAIN_NAME,
    DOMAIN_VERSION,
    KECCAK_BACKEND,
    LEAF_ENCODING,
    READING_TYPE,
    READING_TYPEHASH,
    DeviceSigner,
    Reading,
    ReadingDomain,
    SequenceGap,
    SequenceTracker,
    SignedReading,
    batch_root,
    batch_tree,
    keccak,
    leaf,
    leaf_hash,
    reading_digest,
    reading_typed_data,
    recover_signer,
    scale_decimal,
    verify,
)
from tests.utils.readings import BASE_TIME, DOMAIN, device_key, domains, frame, readings, signer

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
LEDGER = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def _eth_account_message(domain: ReadingDomain, reading: Reading) -> SignableMessage:
    """The reading as eth-account encodes it, from a typed-data message written out by hand."""
    return encode_typed_data(
        full_message={
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                "Reading": [
                    {"name": "device", "type": "address"},
                    {"name": "sequence", "type": "uint64"},
                    {"name": "time", "type": "uint64"},
                    {"name": "pollutant", "type": "bytes8"},
                    {"name": "value", "type": "int256"},
                    {"name": "decimals", "type": "uint8"},
                    {"name": "unit", "type": "bytes8"},
                    {"name": "flag", "type": "bytes1"},
                ],
            },
            "primaryType": "Reading",
            "domain": {
                "name": "ETS EmissionsLedger",
                "version": "1",
                "chainId": domain.chain_id,
                "verifyingContract": domain.verifying_contract,
            },
            "message": {
                "device": reading.device,
                "sequence": reading.sequence,
                "time": reading.time,
                "pollutant": reading.pollutant.encode().ljust(8, b"\x00"),
                "value": reading.value,
                "decimals": reading.decimals,
                "unit": reading.unit.encode().ljust(8, b"\x00"),
                "flag": reading.flag.encode(),
            },
        }
    )


def _digest_of(message: SignableMessage) -> bytes:
    return eth_hash_keccak(b"\x19" + message.version + message.header + message.body)


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


def test_keccak_backend_is_faster_than_eth_hash_when_pycryptodome_is_present() -> None:
    assert KECCAK_BACKEND in {"pysha3", "pycryptodome-ctypes"}


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
def test_sign_gives_eth_account_signature_over_eth_account_digest(
    seed: int, value: int, decimals: int, flag: str
) -> None:
    device = signer(seed)
    signed = device.sign(
        time=BASE_TIME, pollutant="a21026", value=value, decimals=decimals, unit="mg/m3", flag=flag
    )
    message = _eth_account_message(DOMAIN, signed.reading)
    assert signed.digest == _digest_of(message)
    # RFC 6979 nonces: eth-account signing the same message gives the same bytes.
    assert signed.signature == bytes(Account.sign_message(message, device_key(seed)).signature)
    assert signed.signature[64] in (27, 28)
    assert Account.recover_message(message, signature=signed.signature) == device.address


def test_sign_numbers_readings_from_next_sequence() -> None:
    device = signer(2, next_sequence=41)
    readings_ = frame(device, size=3)
    assert [r.sequence for r in readings_] == [41, 42, 43]
    assert device.next_sequence == 44
    assert all(r.device == device.address for r in readings_)


def test_sign_uses_no_sequence_when_a_field_is_bad() -> None:
    device = signer(3)
    with pytest.raises(ReadingValueError):
        device.sign(time=BASE_TIME, pollutant="w01018", value=1, decimals=0, unit="kg", flag="X")
    assert device.next_sequence == 1


def test_sign_text_scales_decimal_text() -> None:
    signed = signer(4).sign_text(time=BASE_TIME, pollutant="w01018", value_text="-0.050", unit="mg/L")
    assert (signed.reading.value, signed.reading.decimals) == (-50, 3)


def test_sign_takes_aware_datetimes_in_any_zone() -> None:
    beijing = timezone(timedelta(hours=8))
    when = datetime(2023, 11, 15, 6, 13, 20, tzinfo=beijing)
    signed = signer(5).sign(time=when, pollutant="w01018", value=1, decimals=0, unit="kg")
    assert signed.reading.time == BASE_TIME


def test_sign_gives_unique_sequences_when_called_from_many_threads() -> None:
    device = signer(6)
    results: list[SignedReading] = []
    lock = threading.Lock()

    def work() -> None:
        mine = frame(device, size=8) + frame(device, size=8)
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.sequence for r in results) == list(range(1, 129))


def test_sign_raises_reading_value_error_when_sequence_is_exhausted() -> None:
    device = signer(7, next_sequence=2**64 - 1)
    assert frame(device, size=1)[0].sequence == 2**64 - 1
    with pytest.raises(ReadingValueError, match="exhausted"):
        frame(device, size=1)


def test_signer_repr_and_pickle_never_show_the_key() -> None:
    key = device_key(8)
    device = DeviceSigner(key, DOMAIN)
    assert key.hex() not in repr(device)
    assert device.address in repr(device)
    with pytest.raises(TypeError):
        pickle.dumps(device)
    signed = frame(device, size=1)[0]
    assert signed.signature.hex() not in repr(signed)


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


# --- recovery and verification ---------------------------------------------------------------


def _signed(seed: int = 20) -> tuple[DeviceSigner, SignedReading]:
    device = signer(seed)
    return device, frame(device, size=1)[0]


def test_recover_signer_returns_the_device_address() -> None:
    device, signed = _signed()
    assert recover_signer(DOMAIN, signed) == device.address
    verify(DOMAIN, signed, device.address)
    verify(DOMAIN, signed, device.address.lower())


def test_verify_raises_reading_signature_error_for_another_expected_device() -> None:
    _, signed = _signed()
    with pytest.raises(ReadingSignatureError, match="another device"):
        verify(DOMAIN, signed, signer(21).address)


def test_verify_raises_reading_signature_error_when_another_key_signed() -> None:
    device, signed = _signed()
    forger = PrivateKey(device_key(22))
    raw = forger.sign_recoverable(signed.digest, hasher=None)
    forged = SignedReading(signed.reading, raw[:64] + bytes((raw[64] + 27,)), signed.digest)
    with pytest.raises(ReadingSignatureError, match="signed by"):
        verify(DOMAIN, forged, device.address)


def test_verify_raises_digest_mismatch_for_a_tampered_value() -> None:
    device, signed = _signed()
    tampered = SignedReading(
        _reading(device=device.address, value=signed.reading.value + 1), signed.signature, signed.digest
    )
    with pytest.raises(ReadingDigestMismatchError):
        verify(DOMAIN, tampered, device.address)


def test_verify_raises_reading_signature_error_for_a_tampered_value_with_matching_digest() -> None:
    device, signed = _signed()
    changed = Reading(
        signed.reading.device,
        signed.reading.sequence,
        signed.reading.time,
        signed.reading.pollutant,
        signed.reading.value + 1,
        signed.reading.decimals,
        signed.reading.unit,
        signed.reading.flag,
    )
    tampered = SignedReading(changed, signed.signature, reading_digest(DOMAIN, changed))
    with pytest.raises(ReadingSignatureError):
        verify(DOMAIN, tampered, device.address)


def test_verify_raises_digest_mismatch_under_another_domain() -> None:
    device, signed = _signed()
    with pytest.raises(ReadingDigestMismatchError):
        verify(ReadingDomain(1, LEDGER), signed, device.address)
    assert issubclass(ReadingDigestMismatchError, ReadingSignatureError)


@pytest.mark.parametrize("v", [0, 1, 26, 29])
def test_recover_signer_raises_reading_signature_error_for_v_not_27_or_28(v: int) -> None:
    _, signed = _signed()
    bad = SignedReading(signed.reading, signed.signature[:64] + bytes((v,)), signed.digest)
    with pytest.raises(ReadingSignatureError, match="27 or 28"):
        recover_signer(DOMAIN, bad)


def test_recover_signer_raises_reading_signature_error_for_high_s() -> None:
    _, signed = _signed()
    s = int.from_bytes(signed.signature[32:64], "big")
    flipped_v = 55 - signed.signature[64]  # 27 <-> 28
    malleable = signed.signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes((flipped_v,))
    bad = SignedReading(signed.reading, malleable, signed.digest)
    with pytest.raises(ReadingSignatureError, match="upper half"):
        recover_signer(DOMAIN, bad)


def test_recover_signer_raises_reading_signature_error_for_zero_r() -> None:
    _, signed = _signed()
    bad = SignedReading(signed.reading, bytes(32) + signed.signature[32:], signed.digest)
    with pytest.raises(ReadingSignatureError, match="recover"):
        recover_signer(DOMAIN, bad)


def test_signed_reading_raises_reading_signature_error_for_bad_lengths() -> None:
    _, signed = _signed()
    with pytest.raises(ReadingSignatureError):
        SignedReading(signed.reading, signed.signature[:64], signed.digest)
    with pytest.raises(ReadingSignatureError):
        SignedReading(signed.reading, signed.signature, signed.digest[:31])


def test_signed_reading_json_round_trips_and_still_verifies() -> None:
    device, signed = _signed()
    again = SignedReading.from_json(json.loads(json.dumps(signed.to_json())))
    assert again == signed
    verify(DOMAIN, again, device.address)


def test_signed_reading_from_json_raises_reading_signature_error_for_bad_hex() -> None:
    _, signed = _signed()
    data = signed.to_json() | {"signature": "0xnothex"}
    with pytest.raises(ReadingSignatureError):
        SignedReading.from_json(data)


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
    signed = frame(device, size=2)
    tracker = SequenceTracker()
    tracker.accept_reading(signed[1])
    with pytest.raises(ReadingReplayError):
        tracker.accept_reading(signed[0])


# --- Merkle leaves ---------------------------------------------------------------------------


def test_leaf_is_the_digest_under_bytes32_encoding() -> None:
    _, signed = _signed()
    assert leaf(signed) == [signed.digest]
    assert LEAF_ENCODING == ("bytes32",)
    tree = StandardMerkleTree.of([leaf(signed)], LEAF_ENCODING)
    assert tree.leaf_hash(leaf(signed)) == "0x" + leaf_hash(signed.digest).hex()
    assert leaf_hash(signed.digest) == eth_hash_keccak(eth_hash_keccak(signed.digest))


def test_batch_tree_proves_every_reading_against_its_root() -> None:
    device = signer(31)
    signed = frame(device, size=8) + frame(device, BASE_TIME + 60, size=5)
    tree = batch_tree(signed)
    for i, s in enumerate(signed):
        proof = tree.get_proof(i)
        assert process_proof(leaf_hash(s.digest), proof) == tree.root
        assert StandardMerkleTree.verify_proof(tree.root, ["bytes32"], ["0x" + s.digest.hex()], proof)
    assert batch_root([s.digest for s in signed]) == bytes.fromhex(tree.root[2:])


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
