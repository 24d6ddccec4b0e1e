"""Sign-In with Ethereum (EIP-4361): build, parse and verify sign-in messages and their signatures."""

from __future__ import annotations

import hmac
import re
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, NoReturn, TypeVar

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_keys.exceptions import BadSignature
from eth_utils import is_checksum_address
from eth_utils.exceptions import ValidationError

from chain.errors import (
    SiweDomainError,
    SiweExpiredError,
    SiweMessageError,
    SiweNonceError,
    SiweSignatureError,
)

__all__ = ["SiweMessage", "message_for_offer", "new_nonce", "sign_siwe", "verify_siwe", "wallet_sign_in"]

#: How far in the future ``issued_at`` may be (clock skew between wallet and server).
MAX_CLOCK_SKEW = timedelta(minutes=5)
#: Longest message text accepted by :meth:`SiweMessage.parse` (a guard for public endpoints).
MAX_MESSAGE_CHARS = 16 * 1024
#: Shortest nonce the grammar allows (``nonce = 8*( ALPHA / DIGIT )``).
MIN_NONCE_LENGTH = 8

_HEADER_SUFFIX = " wants you to sign in with your Ethereum account:"
_NONCE_ALPHABET = string.ascii_letters + string.digits

# RFC 3986 character classes, as regex character-class bodies.
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_GEN_DELIMS = r":/?#\[\]@"
_PCT = r"%[0-9A-Fa-f]{2}"
_SCHEME = r"[A-Za-z][A-Za-z0-9+\-.]*"

_DOMAIN_RE = re.compile(
    rf"(?:(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*@)?"  # userinfo "@"
    rf"(?:\[[0-9A-Fa-f:.vV]+\]|(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})+)"  # host
    r"(?::[0-9]*)?"  # ":" port
)
_URI_RE = re.compile(rf"{_SCHEME}:(?:[{_UNRESERVED}{_SUB_DELIMS}{_GEN_DELIMS}]|{_PCT})*")
_STATEMENT_RE = re.compile(rf"[{_UNRESERVED}{_SUB_DELIMS}{_GEN_DELIMS} ]+")
_REQUEST_ID_RE = re.compile(rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})*")
_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")
_NONCE_RE = re.compile(rf"[A-Za-z0-9]{{{MIN_NONCE_LENGTH},}}")
_CHAIN_ID_RE = re.compile(r"[0-9]+")
_DATE_TIME_RE = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]+))?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_SIGNATURE_HEX_RE = re.compile(r"0x[0-9a-fA-F]*")

_T = TypeVar("_T")


@dataclass(frozen=True)
class SiweMessage:
    """An EIP-4361 sign-in message; every field is checked against the grammar on construction.

    Attributes:
        domain: RFC 3986 authority asking for the sign-in, e.g. ``ets.example`` or ``127.0.0.1:8000``.
        address: EIP-55 checksummed address signing in.
        uri: RFC 3986 URI of the resource that is the subject of the signing.
        chain_id: EIP-155 chain id the session is bound to.
        nonce: at least 8 ASCII letters or digits, issued by the server.
        issued_at: when the message was made (timezone-aware; stored in UTC).
        statement: optional human-readable assertion on one line (RFC 3986 characters and spaces).
        version: message version; only ``"1"`` exists.
        expiration_time: optional instant from which the message is no longer valid.
        not_before: optional instant before which the message is not yet valid.
        request_id: optional system-specific identifier (RFC 3986 ``*pchar``, may be empty).
        resources: URIs the user wishes to have resolved as part of the sign-in.
        scheme: optional RFC 3986 scheme written before the domain (``https://ets.example wants
            you to sign in ...``), as wallets and the npm ``siwe`` package emit when it is set.

    Raises:
        SiweMessageError: a field is invalid; the message names the field.
    """

    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: datetime
    statement: str | None = None
    version: str = "1"
    expiration_time: datetime | None = None
    not_before: datetime | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = ()
    scheme: str | None = None

    def __post_init__(self) -> None:
        if self.scheme is not None:
            _check_scheme(self.scheme)
        _check_domain(self.domain)
        _check_address(self.address)
        _check_uri("uri", self.uri)
        _check_chain_id(self.chain_id)
        _check_nonce(self.nonce)
        _check_version(self.version)
        if self.statement is not None:
            _check_statement(self.statement)
        if self.request_id is not None:
            _check_request_id(self.request_id)
        object.__setattr__(self, "resources", tuple(self.resources))
        for i, resource in enumerate(self.resources):
            _check_uri(f"resources[{i}]", resource)
        object.__setattr__(self, "issued_at", _utc("issued_at", self.issued_at))
        if self.expiration_time is not None:
            object.__setattr__(self, "expiration_time", _utc("expiration_time", self.expiration_time))
        if self.not_before is not None:
            object.__setattr__(self, "not_before", _utc("not_before", self.not_before))

    def to_text(self) -> str:
        """The exact EIP-4361 text to sign, times in RFC 3339 UTC with a ``Z`` suffix."""
        origin = self.domain if self.scheme is None else f"{self.scheme}://{self.domain}"
        lines = [f"{origin}{_HEADER_SUFFIX}", self.address, ""]
        if self.statement is not None:
            lines.append(self.statement)
        lines += [
            "",
            f"URI: {self.uri}",
            f"Version: {self.version}",
            f"Chain ID: {self.chain_id}",
            f"Nonce: {self.nonce}",
            f"Issued At: {_format_time(self.issued_at)}",
        ]
        if self.expiration_time is not None:
            lines.append(f"Expiration Time: {_format_time(self.expiration_time)}")
        if self.not_before is not None:
            lines.append(f"Not Before: {_format_time(self.not_before)}")
        if self.request_id is not None:
            lines.append(f"Request ID: {self.request_id}")
        if self.resources:
            lines.append("Resources:")
            lines += [f"- {resource}" for resource in self.resources]
        return "\n".join(lines)

    @classmethod
    def parse(cls, text: str) -> SiweMessage:
        """Parse EIP-4361 text (LF line endings, fields in the grammar's order, no trailing newline).

        An optional ``scheme://`` before the domain is kept in :attr:`scheme`. Times with an
        offset are converted to UTC; fractions of a second beyond microseconds are truncated.

        Args:
            text: the message as the wallet signed it.

        Returns:
            The message, its fields checked.

        Raises:
            SiweMessageError: the text does not follow the grammar; the message names the line and field.
        """
        if len(text) > MAX_MESSAGE_CHARS:
            raise SiweMessageError(f"SIWE message is longer than {MAX_MESSAGE_CHARS} characters")
        if "\r" in text:
            line_no = text[: text.index("\r")].count("\n") + 1
            raise SiweMessageError(f"SIWE message line {line_no}: lines must end with LF, not CR LF")
        cursor = _Lines(text.split("\n"))

        header = cursor.take("the header '<domain> wants you to sign in with your Ethereum account:'")
        if not header.endswith(_HEADER_SUFFIX):
            cursor.fail(f"expected '<domain>{_HEADER_SUFFIX}', got {_show(header)}")
        domain = header.removesuffix(_HEADER_SUFFIX)
        scheme: str | None = None
        if "://" in domain:
            scheme, domain = domain.split("://", 1)
            cursor.check(_check_scheme, scheme)
        cursor.check(_check_domain, domain)
        address = cursor.check(_check_address, cursor.take("the address"))
        cursor.blank()
        statement: str | None = None
        if cursor.peek() != "":
            statement = cursor.check(_check_statement, cursor.take("the statement or an empty line"))
        cursor.blank()

        uri = cursor.check(lambda v: _check_uri("URI", v), cursor.field("URI"))
        version = cursor.check(_check_version, cursor.field("Version"))
        chain_id = cursor.convert(_parse_chain_id, cursor.field("Chain ID"))
        nonce = cursor.check(_check_nonce, cursor.field("Nonce"))
        issued_at = cursor.convert(lambda v: _parse_time("Issued At", v), cursor.field("Issued At"))
        expiration_time = not_before = None
        if (value := cursor.optional("Expiration Time")) is not None:
            expiration_time = cursor.convert(lambda v: _parse_time("Expiration Time", v), value)
        if (value := cursor.optional("Not Before")) is not None:
            not_before = cursor.convert(lambda v: _parse_time("Not Before", v), value)
        request_id = cursor.optional("Request ID")
        if request_id is not None:
            cursor.check(_check_request_id, request_id)
        resources: list[str] = []
        if cursor.peek() == "Resources:":
            cursor.take("Resources:")
            while (line := cursor.peek()) is not None and line.startswith("- "):
                resources.append(
                    cursor.check(lambda v: _check_uri("resource", v), cursor.take("a resource")[2:])
                )
        if cursor.peek() is not None:
            extra = cursor.take("an extra line")
            cursor.fail(f"unexpected {_show(extra)} (fields must appear once, in EIP-4361 order)")

        return cls(
            domain=domain,
            address=address,
            uri=uri,
            chain_id=chain_id,
            nonce=nonce,
            issued_at=issued_at,
            statement=statement,
            version=version,
            expiration_time=expiration_time,
            not_before=not_before,
            request_id=request_id,
            resources=tuple(resources),
            scheme=scheme,
        )


def new_nonce(length: int = 17) -> str:
    """A random nonce of ASCII letters and digits from :mod:`secrets`, for the server to issue.

    Args:
        length: number of characters, at least 8 (17 gives about 100 bits).

    Raises:
        ValueError: ``length`` is below 8.
    """
    if length < MIN_NONCE_LENGTH:
        raise ValueError(f"a SIWE nonce needs at least {MIN_NONCE_LENGTH} characters, got {length}")
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(length))


def sign_siwe(text: str, account: LocalAccount) -> str:
    """Sign message text as a wallet would (EIP-191 ``personal_sign``); for tests and demos.

    Returns:
        The 65-byte signature as ``0x`` hex.
    """
    signed = account.sign_message(encode_defunct(text=text))
    return "0x" + bytes(signed.signature).hex()


def message_for_offer(offer: Mapping[str, Any], address: str, **fields: Any) -> SiweMessage:
    """The message a wallet builds from a server's nonce offer (``POST /auth/nonce``: nonce,
    domain, uri, chain_id), issued now; ``fields`` set or override any other field."""
    values: dict[str, Any] = {
        "domain": offer["domain"], "address": address, "uri": offer["uri"], "chain_id": offer["chain_id"],
        "nonce": offer["nonce"], "issued_at": datetime.now(UTC),
    }  # fmt: skip
    return SiweMessage(**(values | fields))


def wallet_sign_in(post: Callable[..., Any], account: LocalAccount, **fields: Any) -> str:
    """Sign in to the API as a wallet does, with a local key (demo, benchmarks, tests): ask for a
    nonce, sign the message for it, send it; returns the session token.

    Args:
        post: an HTTP client's ``post(path, json=...)`` against the API.
        account: the signing key (it never leaves this process).
        fields: message fields to set (``statement`` ...).
    """
    message = message_for_offer(post("/auth/nonce").json(), account.address, **fields).to_text()
    response = post("/auth/verify", json={"message": message, "signature": sign_siwe(message, account)})
    response.raise_for_status()
    return str(response.json()["token"])


def verify_siwe(
    text: str,
    signature: str | bytes,
    *,
    domain: str,
    nonce: str,
    now: datetime,
    chain_id: int | None = None,
    max_age: timedelta | None = None,
    scheme: str | None = None,
) -> SiweMessage:
    """Check a signed sign-in message on the server side.

    Only externally owned accounts are supported (no EIP-1271 contract wallets). Keeping nonces
    single-use is the caller's job: issue one with :func:`new_nonce`, pass it here, then discard it.

    Args:
        text: the exact message text the wallet signed.
        signature: 65-byte EIP-191 ``personal_sign`` signature, as ``0x`` hex or bytes.
        domain: the server's own authority; the message must name exactly this.
        nonce: the nonce the server issued for this sign-in.
        now: the current time (timezone-aware).
        chain_id: the chain the session must be bound to, if the server cares.
        max_age: refuse messages issued longer ago than this.
        scheme: the scheme the server is served on (``https``); a message that writes a scheme
            before its domain must name this one (case-insensitively). Without it, a message
            with a scheme is refused (there is nothing to check it against).

    Returns:
        The parsed message; its ``address`` is the authenticated account.

    Raises:
        SiweMessageError: the text does not follow EIP-4361.
        SiweDomainError: the message names another domain, scheme or chain.
        SiweNonceError: the message's nonce is not ``nonce``.
        SiweExpiredError: the message has expired, is not yet valid, is older than ``max_age`` or was
            issued more than five minutes in the future.
        SiweSignatureError: the signature is malformed or was not made by the message's address.
        ValueError: ``now`` is naive or ``max_age`` is negative (caller errors).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("verify_siwe needs a timezone-aware 'now'")
    if max_age is not None and max_age < timedelta(0):
        raise ValueError("verify_siwe needs a non-negative 'max_age'")
    message = SiweMessage.parse(text)
    if message.domain != domain:
        raise SiweDomainError(f"SIWE message is for domain {message.domain!r}, not {domain!r}")
    if message.scheme is not None and (scheme is None or message.scheme.lower() != scheme.lower()):
        served = "an unstated scheme" if scheme is None else repr(scheme)
        raise SiweDomainError(
            f"SIWE message is for scheme {message.scheme!r}, but this server is served on {served}"
        )
    if chain_id is not None and message.chain_id != chain_id:
        raise SiweDomainError(f"SIWE message is for chain {message.chain_id}, not {chain_id}")
    if not hmac.compare_digest(message.nonce.encode(), nonce.encode()):
        raise SiweNonceError("SIWE message nonce is not the one issued for this sign-in")
    _check_times(message, now, max_age)
    _check_signature(text, signature, message.address)
    return message


def _check_times(message: SiweMessage, now: datetime, max_age: timedelta | None) -> None:
    at = _format_time(now.astimezone(UTC))
    if message.expiration_time is not None and message.expiration_time <= now:
        raise SiweExpiredError(f"SIWE message expired at {_format_time(message.expiration_time)} (now {at})")
    if message.not_before is not None and message.not_before > now:
        raise SiweExpiredError(
            f"SIWE message is not valid before {_format_time(message.not_before)} (now {at})"
        )
    if max_age is not None and message.issued_at < now - max_age:
        raise SiweExpiredError(
            f"SIWE message was issued at {_format_time(message.issued_at)}, "
            f"more than {max_age} ago (now {at})"
        )
    if message.issued_at > now + MAX_CLOCK_SKEW:
        raise SiweExpiredError(
            f"SIWE message is issued in the future, at {_format_time(message.issued_at)} (now {at})"
        )


def _check_signature(text: str, signature: str | bytes, address: str) -> None:
    raw = _signature_bytes(signature)
    try:
        signer = Account.recover_message(encode_defunct(text=text), signature=raw)
    except (ValueError, BadSignature, ValidationError):
        raise SiweSignatureError("SIWE signature is malformed: no signer can be recovered from it") from None
    if signer != address:
        raise SiweSignatureError(f"SIWE signature was not made by {address}")


def _signature_bytes(signature: str | bytes) -> bytes:
    if isinstance(signature, str):
        if _SIGNATURE_HEX_RE.fullmatch(signature) is None or len(signature) % 2:
            raise SiweSignatureError("SIWE signature must be 0x-prefixed hex")
        raw = bytes.fromhex(signature[2:])
    elif isinstance(signature, bytes | bytearray):
        raw = bytes(signature)
    else:
        raise SiweSignatureError(f"SIWE signature must be hex text or bytes, not {type(signature).__name__}")
    if len(raw) != 65:
        raise SiweSignatureError(f"SIWE signature must be 65 bytes, got {len(raw)}")
    return raw


class _Lines:
    """Cursor over the message lines that reports errors with 1-based line numbers."""

    def __init__(self, lines: list[str]) -> None:
        self._lines = lines
        self._index = 0

    def fail(self, problem: str) -> NoReturn:
        raise SiweMessageError(f"SIWE message line {max(self._index, 1)}: {problem}")

    def peek(self) -> str | None:
        return self._lines[self._index] if self._index < len(self._lines) else None

    def take(self, what: str) -> str:
        line = self.peek()
        if line is None:
            raise SiweMessageError(f"SIWE message line {self._index + 1}: missing {what}")
        self._index += 1
        return line

    def blank(self) -> None:
        line = self.take("an empty line")
        if line != "":
            self.fail(f"expected an empty line, got {_show(line)}")

    def field(self, name: str) -> str:
        line = self.take(f"'{name}: ...'")
        if not line.startswith(f"{name}: "):
            self.fail(f"expected '{name}: ...', got {_show(line)}")
        return line[len(name) + 2 :]

    def optional(self, name: str) -> str | None:
        line = self.peek()
        if line is None or not line.startswith(f"{name}: "):
            return None
        return self.field(name)

    def check(self, validate: Callable[[str], None], value: str) -> str:
        """Run ``validate`` on the value of the line just taken, naming the line if it refuses."""
        self.convert(validate, value)
        return value

    def convert(self, parse: Callable[[str], _T], value: str) -> _T:
        """Run ``parse`` on the value of the line just taken, naming the line if it refuses."""
        try:
            return parse(value)
        except SiweMessageError as exc:
            raise SiweMessageError(f"SIWE message line {self._index}: {exc}") from None


def _show(line: str) -> str:
    return repr(line if len(line) <= 60 else line[:57] + "...")


def _check_scheme(scheme: str) -> None:
    if re.fullmatch(_SCHEME, scheme) is None:
        raise SiweMessageError(f"scheme {_show(scheme)} is not an RFC 3986 scheme")


def _check_domain(domain: str) -> None:
    if _DOMAIN_RE.fullmatch(domain) is None:
        raise SiweMessageError(f"domain {_show(domain)} is not an RFC 3986 authority (host[:port])")


def _check_address(address: str) -> None:
    if _ADDRESS_RE.fullmatch(address) is None:
        raise SiweMessageError(f"address {_show(address)} is not 0x and 40 hex digits")
    if not is_checksum_address(address):
        raise SiweMessageError(f"address {address} is not EIP-55 checksummed")


def _check_uri(field: str, uri: str) -> None:
    if _URI_RE.fullmatch(uri) is None:
        raise SiweMessageError(f"{field} {_show(uri)} is not an RFC 3986 URI")


def _check_chain_id(chain_id: int) -> None:
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id < 0:
        raise SiweMessageError(f"chain_id {chain_id!r} is not a non-negative integer")


def _parse_chain_id(value: str) -> int:
    if _CHAIN_ID_RE.fullmatch(value) is None:
        raise SiweMessageError(f"Chain ID {_show(value)} is not a decimal number")
    return int(value)


def _check_nonce(nonce: str) -> None:
    if _NONCE_RE.fullmatch(nonce) is None:
        raise SiweMessageError(f"nonce must be at least {MIN_NONCE_LENGTH} ASCII letters or digits")


def _check_version(version: str) -> None:
    if version != "1":
        raise SiweMessageError(f"version {_show(version)} is not supported (only '1')")


def _check_statement(statement: str) -> None:
    if "\n" in statement or "\r" in statement:
        raise SiweMessageError("statement must be a single line")
    if _STATEMENT_RE.fullmatch(statement) is None:
        raise SiweMessageError(
            f"statement {_show(statement)} must be non-empty RFC 3986 reserved or unreserved "
            "characters and spaces"
        )


def _check_request_id(request_id: str) -> None:
    if _REQUEST_ID_RE.fullmatch(request_id) is None:
        raise SiweMessageError(f"request_id {_show(request_id)} has characters outside RFC 3986 pchar")


def _utc(field: str, value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise SiweMessageError(f"{field} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise SiweMessageError(f"{field} must be timezone-aware")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise SiweMessageError(f"{field} is out of range in UTC") from None


def _parse_time(field: str, value: str) -> datetime:
    match = _DATE_TIME_RE.fullmatch(value)
    if match is None:
        raise SiweMessageError(f"{field} {_show(value)} is not an RFC 3339 date-time")
    offset = match["offset"]
    if offset in ("Z", "z"):
        tz = UTC
    else:
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            raise SiweMessageError(f"{field} {_show(value)} has an invalid UTC offset")
        tz = timezone((-1 if offset[0] == "-" else 1) * timedelta(hours=hours, minutes=minutes))
    fraction = (match["fraction"] or "")[:6].ljust(6, "0")
    try:
        parsed = datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            int(fraction),
            tzinfo=tz,
        )
    except ValueError:
        raise SiweMessageError(f"{field} {_show(value)} is not a valid date and time") from None
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise SiweMessageError(f"{field} {_show(value)} is out of range") from None


def _format_time(value: datetime) -> str:
    v = value.astimezone(UTC)
    text = f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
    if v.microsecond:
        text += f".{v.microsecond:06d}".rstrip("0")
    return text + "Z"
