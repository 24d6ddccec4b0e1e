"""Sign-In with Ethereum (EIP-4361): message text, parsing refusals and server-side verification."""

from __future__ import annotations

import dataclasses
import string
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from eth_account import Account
from eth_utils import to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

from chain.accounts import dev_account
from chain.errors import (
    SiweDomainError,
    SiweError,
    SiweExpiredError,
    SiweMessageError,
    SiweNonceError,
    SiweSignatureError,
)
from chain.siwe import SiweMessage, new_nonce, sign_siwe, verify_siwe

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
DOMAIN = "ets.example"
NONCE = "k3Fq9ZpX2mLw7RtYb"
ALICE = dev_account(7)
MALLORY = dev_account(8)

# The example of EIP-4361 (address written in its EIP-55 form, as the spec requires).
EIP_EXAMPLE_TEXT = """\
service.org wants you to sign in with your Ethereum account:
0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2

I accept the ServiceOrg Terms of Service: https://service.org/tos

URI: https://service.org/login
Version: 1
Chain ID: 1
Nonce: 32891756
Issued At: 2021-09-30T16:25:24Z
Resources:
- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/
- https://example.com/my-web2-claim.json"""

EIP_EXAMPLE = SiweMessage(
    domain="service.org",
    address="0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
    statement="I accept the ServiceOrg Terms of Service: https://service.org/tos",
    uri="https://service.org/login",
    chain_id=1,
    nonce="32891756",
    issued_at=datetime(2021, 9, 30, 16, 25, 24, tzinfo=UTC),
    resources=(
        "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
        "https://example.com/my-web2-claim.json",
    ),
)

FULL_TEXT = """\
127.0.0.1:8000 wants you to sign in with your Ethereum account:
0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266

Sign in to ETS Chain as a registered enterprise.

URI: http://127.0.0.1:8000/auth/siwe
Version: 1
Chain ID: 1337
Nonce: abcDEF123456
Issued At: 2026-03-01T11:59:30.25Z
Expiration Time: 2026-03-01T12:09:30Z
Not Before: 2026-03-01T11:59:00Z
Request ID: req-42:login@api
Resources:
- https://ets.example/terms"""

MINIMAL_TEXT = """\
ets.example wants you to sign in with your Ethereum account:
0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266


URI: https://ets.example
Version: 1
Chain ID: 1337
Nonce: abcDEF123456
Issued At: 2026-03-01T11:59:30Z"""


def make(**overrides: Any) -> SiweMessage:
    """A valid message for ALICE at NOW, with fields overridden."""
    fields: dict[str, Any] = {
        "domain": DOMAIN,
        "address": ALICE.address,
        "uri": "https://ets.example/login",
        "chain_id": 1337,
        "nonce": NONCE,
        "issued_at": NOW - timedelta(seconds=30),
        "statement": "Sign in to ETS Chain.",
        "expiration_time": NOW + timedelta(minutes=10),
    }
    fields.update(overrides)
    return SiweMessage(**fields)


def signed(message: SiweMessage, account: Any = ALICE) -> tuple[str, str]:
    text = message.to_text()
    return text, sign_siwe(text, account)


def verify(text: str, signature: str | bytes, **overrides: Any) -> SiweMessage:
    kwargs: dict[str, Any] = {"domain": DOMAIN, "nonce": NONCE, "now": NOW, "chain_id": 1337}
    kwargs.update(overrides)
    return verify_siwe(text, signature, **kwargs)


# --- text format ----------------------------------------------------------------------------------


def test_to_text_matches_eip_example_exactly() -> None:
    assert EIP_EXAMPLE.to_text() == EIP_EXAMPLE_TEXT


def test_parse_reads_eip_example_exactly() -> None:
    assert SiweMessage.parse(EIP_EXAMPLE_TEXT) == EIP_EXAMPLE


def test_to_text_leaves_two_empty_lines_without_statement() -> None:
    message = SiweMessage(
        domain="ets.example",
        address="0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        uri="https://ets.example",
        chain_id=1337,
        nonce="abcDEF123456",
        issued_at=datetime(2026, 3, 1, 11, 59, 30, tzinfo=UTC),
    )
    assert message.to_text() == MINIMAL_TEXT


def test_parse_round_trips_with_all_optional_fields() -> None:
    message = SiweMessage.parse(FULL_TEXT)
    assert message.domain == "127.0.0.1:8000"
    assert message.statement == "Sign in to ETS Chain as a registered enterprise."
    assert message.issued_at == datetime(2026, 3, 1, 11, 59, 30, 250_000, tzinfo=UTC)
    assert message.expiration_time == datetime(2026, 3, 1, 12, 9, 30, tzinfo=UTC)
    assert message.not_before == datetime(2026, 3, 1, 11, 59, tzinfo=UTC)
    assert message.request_id == "req-42:login@api"
    assert message.resources == ("https://ets.example/terms",)
    assert message.to_text() == FULL_TEXT
    assert SiweMessage.parse(message.to_text()) == message


def test_parse_round_trips_with_no_optional_fields() -> None:
    message = SiweMessage.parse(MINIMAL_TEXT)
    assert message.statement is None
    assert message.expiration_time is None and message.not_before is None
    assert message.request_id is None and message.resources == ()
    assert message.to_text() == MINIMAL_TEXT


def test_parse_converts_offset_times_to_utc_when_not_zulu() -> None:
    text = MINIMAL_TEXT.replace("2026-03-01T11:59:30Z", "2026-03-01T19:59:30+08:00")
    message = SiweMessage.parse(text)
    assert message.issued_at == datetime(2026, 3, 1, 11, 59, 30, tzinfo=UTC)
    assert message.issued_at.tzinfo is UTC
    assert message.to_text() == MINIMAL_TEXT


def test_parse_keeps_empty_request_id_when_present() -> None:
    text = MINIMAL_TEXT + "\nRequest ID: "
    assert SiweMessage.parse(text).request_id == ""
    assert SiweMessage.parse(text).to_text() == text


def test_siwe_message_stores_times_in_utc_when_given_offset() -> None:
    plus8 = timezone(timedelta(hours=8))
    message = make(issued_at=datetime(2026, 3, 1, 20, 0, tzinfo=plus8))
    assert message.issued_at == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert "Issued At: 2026-03-01T12:00:00Z" in message.to_text()


# --- parse refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266",  # all lowercase
        "0xF39FD6E51AAD88F6F4CE6AB8827279CFFFB92266",  # all uppercase
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92267",  # checksum of another address
    ],
)
def test_parse_refuses_address_when_not_eip55(address: str) -> None:
    text = MINIMAL_TEXT.replace("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", address)
    with pytest.raises(SiweMessageError, match=r"line 2: address .* not EIP-55 checksummed"):
        SiweMessage.parse(text)


@pytest.mark.parametrize(
    "address", ["f39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb9226", ""]
)
def test_parse_refuses_address_when_not_40_hex_digits(address: str) -> None:
    text = MINIMAL_TEXT.replace("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", address)
    with pytest.raises(SiweMessageError, match=r"line 2: address"):
        SiweMessage.parse(text)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("ets.example wants you to sign in with your Ethereum account:", "line 1"),
        ("URI: https://ets.example", "line 5: expected 'URI: ...'"),
        ("Version: 1", "line 6: expected 'Version: ...'"),
        ("Chain ID: 1337", "line 7: expected 'Chain ID: ...'"),
        ("Nonce: abcDEF123456", "line 8: expected 'Nonce: ...'"),
        ("Issued At: 2026-03-01T11:59:30Z", "line 9: missing 'Issued At: ...'"),
    ],
)
def test_parse_refuses_text_when_required_line_missing(line: str, expected: str) -> None:
    lines = MINIMAL_TEXT.split("\n")
    lines.remove(line)
    with pytest.raises(SiweMessageError, match=expected):
        SiweMessage.parse("\n".join(lines))


def test_parse_refuses_text_when_blank_line_after_address_missing() -> None:
    # one empty line, not two: the URI line reads as a statement, so the next line must be empty
    text = MINIMAL_TEXT.replace("92266\n\n\n", "92266\n\n")
    with pytest.raises(SiweMessageError, match="line 5: expected an empty line, got 'Version: 1'"):
        SiweMessage.parse(text)


@pytest.mark.parametrize("text", ["", "ets.example wants you to sign in"])
def test_parse_refuses_text_when_header_missing(text: str) -> None:
    with pytest.raises(SiweMessageError, match="line 1"):
        SiweMessage.parse(text)


@pytest.mark.parametrize(
    "nonce",
    ["abc1234", "", "abcd-1234", "abcd 1234", "abcdéfgh1", "１２３４５６７８"],
    ids=["short", "empty", "dash", "space", "non-ascii-letter", "fullwidth-digits"],
)
def test_parse_refuses_nonce_when_short_or_not_alphanumeric(nonce: str) -> None:
    text = MINIMAL_TEXT.replace("Nonce: abcDEF123456", f"Nonce: {nonce}")
    with pytest.raises(SiweMessageError, match="line 8: nonce must be at least 8 ASCII letters or digits"):
        SiweMessage.parse(text)


@pytest.mark.parametrize(
    "time",
    [
        "2026-03-01 11:59:30Z",  # space, not T
        "2026-03-01T11:59:30",  # no offset
        "2026-03-01",  # date only
        "2026-13-01T11:59:30Z",  # month 13
        "2026-02-30T11:59:30Z",  # no such day
        "2026-03-01T24:00:00Z",  # hour 24
        "2026-03-01T11:59:60Z",  # leap second: not representable
        "2026-03-01T11:59:30+24:00",  # offset out of range
        "1772366370",  # unix seconds
        "yesterday",
    ],
)
def test_parse_refuses_time_when_not_rfc3339(time: str) -> None:
    text = MINIMAL_TEXT.replace("Issued At: 2026-03-01T11:59:30Z", f"Issued At: {time}")
    with pytest.raises(SiweMessageError, match="line 9: Issued At"):
        SiweMessage.parse(text)


def test_parse_refuses_expiration_time_when_malformed() -> None:
    text = MINIMAL_TEXT + "\nExpiration Time: soon"
    with pytest.raises(SiweMessageError, match="line 10: Expiration Time 'soon' is not an RFC 3339"):
        SiweMessage.parse(text)


def test_parse_refuses_statement_when_it_spans_two_lines() -> None:
    text = EIP_EXAMPLE_TEXT.replace("Terms of Service: ", "Terms of Service:\n")
    with pytest.raises(SiweMessageError, match="line 5: expected an empty line"):
        SiweMessage.parse(text)


def test_siwe_message_refuses_statement_when_it_has_newline() -> None:
    with pytest.raises(SiweMessageError, match="statement must be a single line"):
        make(statement="Sign in\nURI: https://evil.example")


@pytest.mark.parametrize("statement", ["", 'Accept the "terms"', "Balance < 100", "登录"])
def test_siwe_message_refuses_statement_when_outside_grammar(statement: str) -> None:
    with pytest.raises(SiweMessageError, match="statement"):
        make(statement=statement)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("Version: 1", "Version: 2", "line 6: version '2' is not supported"),
        ("Chain ID: 1337", "Chain ID: 0x539", "line 7: Chain ID '0x539' is not a decimal number"),
        ("Chain ID: 1337", "Chain ID: -1", "line 7: Chain ID"),
        ("URI: https://ets.example", "URI: not a uri", "line 5: URI 'not a uri' is not an RFC 3986 URI"),
        ("URI: https://ets.example", "URI: ", "line 5: URI"),
        (
            "ets.example wants",
            "1https://ets.example wants",
            "line 1: scheme '1https' is not an RFC 3986 scheme",
        ),
        ("ets.example wants", "://ets.example wants", "line 1: scheme '' is not an RFC 3986 scheme"),
        ("ets.example wants", "ets example wants", "line 1: domain 'ets example'"),
        ("ets.example wants", " wants", "line 1: domain ''"),
    ],
)
def test_parse_refuses_field_when_outside_grammar(old: str, new: str, expected: str) -> None:
    with pytest.raises(SiweMessageError, match=expected):
        SiweMessage.parse(MINIMAL_TEXT.replace(old, new))


@pytest.mark.parametrize(
    ("suffix", "expected"),
    [
        ("\n", "line 10: unexpected ''"),
        ("\nNot Before: 2026-03-01T11:59:00Z\nExpiration Time: 2026-03-01T12:09:30Z", "line 11: unexpected"),
        ("\nIssued At: 2026-03-01T11:59:30Z", "line 10: unexpected"),
        ("\nFoo: bar", "line 10: unexpected 'Foo: bar'"),
        ("\nResources:\n- https://a.example\n- not a uri", "line 12: resource 'not a uri'"),
        ("\nRequest ID: has space", "line 10: request_id 'has space'"),
    ],
)
def test_parse_refuses_text_when_lines_extra_or_out_of_order(suffix: str, expected: str) -> None:
    with pytest.raises(SiweMessageError, match=expected):
        SiweMessage.parse(MINIMAL_TEXT + suffix)


def test_parse_refuses_text_when_crlf_line_endings() -> None:
    with pytest.raises(SiweMessageError, match="line 1: lines must end with LF"):
        SiweMessage.parse(MINIMAL_TEXT.replace("\n", "\r\n"))


def test_parse_refuses_text_when_too_long() -> None:
    with pytest.raises(SiweMessageError, match="longer than"):
        SiweMessage.parse(MINIMAL_TEXT + "\nResources:" + "\n- https://a.example" * 2000)


@pytest.mark.parametrize("field", ["issued_at", "expiration_time", "not_before"])
def test_siwe_message_refuses_time_when_naive(field: str) -> None:
    with pytest.raises(SiweMessageError, match=f"{field} must be timezone-aware"):
        make(**{field: datetime(2026, 3, 1, 12, 0)})


def test_siwe_message_refuses_address_when_lowercase() -> None:
    with pytest.raises(SiweMessageError, match="not EIP-55"):
        make(address=ALICE.address.lower())


@pytest.mark.parametrize("chain_id", [-1, True])
def test_siwe_message_refuses_chain_id_when_not_natural(chain_id: int) -> None:
    with pytest.raises(SiweMessageError, match="chain_id"):
        make(chain_id=chain_id)


def test_siwe_errors_are_value_errors_under_one_root() -> None:
    with pytest.raises(ValueError):
        make(nonce="short")
    assert issubclass(SiweSignatureError, SiweError)


# --- verification ---------------------------------------------------------------------------------


def test_verify_siwe_returns_message_when_signed_by_its_address() -> None:
    message = make(
        not_before=NOW - timedelta(minutes=1), request_id="r1", resources=("https://ets.example/terms",)
    )
    text, signature = signed(message)
    assert verify(text, signature, max_age=timedelta(minutes=5)) == message


def test_verify_siwe_accepts_bytes_signature_and_no_chain_check() -> None:
    text, signature = signed(make(chain_id=1))
    assert verify(text, bytes.fromhex(signature[2:]), chain_id=None).address == ALICE.address


def test_verify_siwe_accepts_random_account_signature() -> None:
    account = Account.create()
    text, signature = signed(make(address=account.address), account)
    assert verify(text, signature).address == account.address


def test_verify_siwe_checks_signature_over_exact_text_when_times_not_canonical() -> None:
    text = make().to_text().replace("2026-03-01T11:59:30Z", "2026-03-01T19:59:30.000+08:00")
    assert verify(text, sign_siwe(text, ALICE)).issued_at == NOW - timedelta(seconds=30)


def test_verify_siwe_raises_message_error_when_text_malformed() -> None:
    text = make().to_text().replace(ALICE.address, ALICE.address.lower())
    with pytest.raises(SiweMessageError):
        verify(text, sign_siwe(text, ALICE))


def test_verify_siwe_raises_domain_error_when_other_domain() -> None:
    text, signature = signed(make(domain="evil.example"))
    with pytest.raises(SiweDomainError, match=r"for domain 'evil\.example', not 'ets\.example'"):
        verify(text, signature)


def test_verify_siwe_raises_domain_error_when_port_differs() -> None:
    text, signature = signed(make(domain="ets.example:8443"))
    with pytest.raises(SiweDomainError):
        verify(text, signature)


def test_verify_siwe_raises_domain_error_when_other_chain() -> None:
    text, signature = signed(make(chain_id=1))
    with pytest.raises(SiweDomainError, match="for chain 1, not 1337"):
        verify(text, signature)


def test_verify_siwe_raises_nonce_error_when_nonce_not_issued() -> None:
    text, signature = signed(make(nonce="OtherNonce123"))
    with pytest.raises(SiweNonceError) as info:
        verify(text, signature)
    assert NONCE not in str(info.value)


def test_verify_siwe_raises_expired_error_when_expired() -> None:
    text, signature = signed(make(expiration_time=NOW - timedelta(seconds=1)))
    with pytest.raises(SiweExpiredError, match="expired at 2026-03-01T11:59:59Z"):
        verify(text, signature)


def test_verify_siwe_raises_expired_error_when_expiring_exactly_now() -> None:
    text, signature = signed(make(expiration_time=NOW))
    with pytest.raises(SiweExpiredError, match="expired"):
        verify(text, signature)


def test_verify_siwe_raises_expired_error_when_not_yet_valid() -> None:
    text, signature = signed(make(not_before=NOW + timedelta(seconds=1)))
    with pytest.raises(SiweExpiredError, match="not valid before 2026-03-01T12:00:01Z"):
        verify(text, signature)


def test_verify_siwe_accepts_message_when_not_before_is_now() -> None:
    text, signature = signed(make(not_before=NOW))
    assert verify(text, signature).not_before == NOW


def test_verify_siwe_raises_expired_error_when_older_than_max_age() -> None:
    text, signature = signed(make(issued_at=NOW - timedelta(minutes=6)))
    with pytest.raises(SiweExpiredError, match="more than 0:05:00 ago"):
        verify(text, signature, max_age=timedelta(minutes=5))
    assert verify(text, signature).issued_at == NOW - timedelta(minutes=6)  # no max_age: no age limit


def test_verify_siwe_raises_expired_error_when_issued_in_future() -> None:
    text, signature = signed(make(issued_at=NOW + timedelta(minutes=5, seconds=1)))
    with pytest.raises(SiweExpiredError, match="issued in the future"):
        verify(text, signature)


def test_verify_siwe_accepts_message_when_issued_within_clock_skew() -> None:
    text, signature = signed(make(issued_at=NOW + timedelta(minutes=5)))
    assert verify(text, signature).issued_at == NOW + timedelta(minutes=5)


def test_verify_siwe_compares_times_when_now_has_offset() -> None:
    text, signature = signed(make(expiration_time=NOW + timedelta(seconds=1)))
    now_plus8 = NOW.astimezone(timezone(timedelta(hours=8)))
    assert verify(text, signature, now=now_plus8).address == ALICE.address


def test_verify_siwe_raises_value_error_when_now_naive() -> None:
    text, signature = signed(make())
    with pytest.raises(ValueError, match="timezone-aware"):
        verify(text, signature, now=NOW.replace(tzinfo=None))


def test_verify_siwe_raises_signature_error_when_signed_by_another_key() -> None:
    text = make().to_text()
    signature = sign_siwe(text, MALLORY)
    with pytest.raises(SiweSignatureError, match=f"not made by {ALICE.address}") as info:
        verify(text, signature)
    assert signature[2:] not in str(info.value) and MALLORY.key.hex() not in str(info.value)


def test_verify_siwe_raises_signature_error_when_text_altered_after_signing() -> None:
    text, signature = signed(make())
    altered = text.replace("Sign in to ETS Chain.", "Sign in to ETS Chain!")
    with pytest.raises(SiweSignatureError, match="not made by"):
        verify(altered, signature)


def _good_signature() -> str:
    return signed(make())[1]


@pytest.mark.parametrize(
    ("signature", "expected"),
    [
        ("0x" + "zz" * 65, "0x-prefixed hex"),
        (_good_signature()[2:], "0x-prefixed hex"),  # no 0x prefix
        (_good_signature() + "0", "0x-prefixed hex"),  # odd number of digits
        ("0x" + " ".join(["ab"] * 65), "0x-prefixed hex"),  # fromhex would allow spaces
        ("", "0x-prefixed hex"),
        ("0x", "65 bytes, got 0"),
        (_good_signature()[:-2], "65 bytes, got 64"),
        (_good_signature() + "1b", "65 bytes, got 66"),
        (bytes(64), "65 bytes, got 64"),
        (bytes(65), "malformed"),  # r = s = 0
        (_good_signature()[:-2] + "05", "malformed"),  # v not in 0, 1, 27, 28
        ("0x" + "ff" * 64 + "1b", "malformed"),  # r, s above the curve order
    ],
    ids=[
        "bad-hex",
        "no-prefix",
        "odd-length",
        "spaces",
        "empty",
        "zero-bytes",
        "64-bytes-hex",
        "66-bytes-hex",
        "64-bytes-raw",
        "all-zero",
        "bad-v",
        "s-too-big",
    ],
)
def test_verify_siwe_raises_signature_error_when_signature_malformed(
    signature: str | bytes, expected: str
) -> None:
    text = make().to_text()
    with pytest.raises(SiweSignatureError, match=expected) as info:
        verify(text, signature)
    if isinstance(signature, str) and len(signature) > 10:
        assert signature not in str(info.value)


def test_verify_siwe_raises_signature_error_when_signature_wrong_type() -> None:
    with pytest.raises(SiweSignatureError, match="hex text or bytes"):
        verify(make().to_text(), 12345)  # type: ignore[arg-type]


# --- nonces ---------------------------------------------------------------------------------------


def test_new_nonce_returns_alphanumeric_of_length() -> None:
    nonce = new_nonce()
    assert len(nonce) == 17 and set(nonce) <= set(string.ascii_letters + string.digits)
    assert len(new_nonce(32)) == 32
    assert len({new_nonce() for _ in range(100)}) == 100
    assert make(nonce=new_nonce(8)).nonce


def test_new_nonce_raises_value_error_when_shorter_than_8() -> None:
    with pytest.raises(ValueError, match="at least 8"):
        new_nonce(7)


# --- property -------------------------------------------------------------------------------------

_UNRESERVED = string.ascii_letters + string.digits + "-._~"
_SUB_DELIMS = "!$&'()*+,;="
_URIS = st.builds(
    "{}:{}".format,
    st.from_regex(r"[a-z][a-z0-9+.\-]{0,8}", fullmatch=True),
    st.text(alphabet=_UNRESERVED + _SUB_DELIMS + ":/?#[]@", max_size=30),
)
_TIMES = st.datetimes(
    min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
) | st.datetimes(
    min_value=datetime(1000, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))]),
)
_DOMAINS = st.from_regex(
    r"[a-z0-9]([a-z0-9\-]{0,20}[a-z0-9])?(\.[a-z]{2,6}){0,2}(:[0-9]{1,5})?", fullmatch=True
)
_MESSAGES = st.builds(
    SiweMessage,
    domain=_DOMAINS,
    address=st.binary(min_size=20, max_size=20).map(to_checksum_address),
    uri=_URIS,
    chain_id=st.integers(min_value=0, max_value=2**256),
    nonce=st.text(alphabet=string.ascii_letters + string.digits, min_size=8, max_size=40),
    issued_at=_TIMES,
    statement=st.none() | st.text(alphabet=_UNRESERVED + _SUB_DELIMS + ":/?#[]@ ", min_size=1, max_size=80),
    expiration_time=st.none() | _TIMES,
    not_before=st.none() | _TIMES,
    request_id=st.none() | st.text(alphabet=_UNRESERVED + _SUB_DELIMS + ":@", max_size=20),
    resources=st.lists(_URIS, max_size=3).map(tuple),
)


@given(_MESSAGES)
def test_parse_inverts_to_text_for_any_message(message: SiweMessage) -> None:
    parsed = SiweMessage.parse(message.to_text())
    assert parsed == message
    assert parsed.to_text() == message.to_text()
    for field in dataclasses.fields(SiweMessage):
        value = getattr(parsed, field.name)
        if isinstance(value, datetime):
            assert value.tzinfo is UTC


# ---------------------------------------------------------------------- scheme before the domain


def test_parse_keeps_the_scheme_written_before_the_domain_and_writes_it_back() -> None:
    text = make().to_text().replace("ets.example wants", "https://ets.example wants", 1)
    message = SiweMessage.parse(text)
    assert (message.scheme, message.domain) == ("https", "ets.example")
    assert message.to_text() == text


def test_verify_siwe_accepts_a_scheme_when_it_matches_the_served_one() -> None:
    message = make(scheme="https")
    text = message.to_text()
    assert text.startswith("https://ets.example wants you to sign in")
    verified = verify_siwe(text, sign_siwe(text, ALICE), domain="ets.example", nonce=message.nonce,
                           now=NOW, scheme="HTTPS")  # fmt: skip
    assert verified.scheme == "https" and verified.address == ALICE.address


@pytest.mark.parametrize("served", ["http", None])
def test_verify_siwe_refuses_a_scheme_when_it_differs_from_the_served_one(served: str | None) -> None:
    message = make(scheme="https")
    text = message.to_text()
    with pytest.raises(SiweDomainError, match="scheme 'https'"):
        verify_siwe(text, sign_siwe(text, ALICE), domain="ets.example", nonce=message.nonce, now=NOW,
                    scheme=served)  # fmt: skip
