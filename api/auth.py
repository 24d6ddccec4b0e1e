"""Sign-In with Ethereum for the API: nonces handed out once, messages verified against this
server's domain and chain, session tokens (stored hashed) for what follows."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from api.errors import AuthError
from chain.errors import SiweNonceError
from chain.siwe import SiweMessage, new_nonce, verify_siwe
from readmodel import models as m


@dataclass(frozen=True)
class IssuedSession:
    """A session token (shown once) for ``address``, valid until ``expires_at`` (unix s)."""

    token: str
    address: str
    expires_at: int


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionCache:
    """Session tokens this process has checked, kept for ``ttl`` seconds (never past the
    session's expiry), so a request does not read the session table each time.

    A sign-out through this process drops its entry at once; other API processes honour it
    within ``ttl`` seconds (``ETS_API_SESSION_CACHE_SECONDS``; 0 turns the cache off).
    """

    def __init__(self, ttl: float, max_entries: int = 50_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, int, str]] = {}

    def get(self, token: str, now: float | None = None) -> str | None:
        """The address of a cached, still valid session, or None."""
        if self.ttl <= 0:
            return None
        hit = self._entries.get(_hash(token))
        now = time.time() if now is None else now
        if hit is None or hit[0] <= now or hit[1] <= now:
            return None
        return hit[2]

    def put(self, token: str, address: str, expires_at: int, now: float | None = None) -> None:
        if self.ttl <= 0:
            return
        now = time.time() if now is None else now
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now and v[1] > now}
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
            self._entries[_hash(token)] = (now + self.ttl, expires_at, address)

    def drop(self, token: str) -> None:
        with self._lock:
            self._entries.pop(_hash(token), None)


def issue_nonce(db: Session, *, lifetime_s: int, now: int | None = None) -> m.SiweNonce:
    """A fresh nonce for a SIWE message, stored until used or expired."""
    now = int(time.time()) if now is None else now
    row = m.SiweNonce(nonce=new_nonce(), issued_at=now, expires_at=now + lifetime_s, used=False)
    db.add(row)
    db.flush()
    return row


def sign_in(
    db: Session,
    *,
    message: str,
    signature: str,
    domain: str,
    chain_id: int,
    session_s: int,
    scheme: str = "http",
    now: int | None = None,
) -> IssuedSession:
    """Verify a signed SIWE message and open a session for its address.

    The nonce must be one this server issued, unexpired and unused; it is spent here, even
    when the signature then fails, so a message can be tried once.

    Raises:
        SiweError: the message, its domain, chain, times, nonce or signature is refused.
    """
    now = int(time.time()) if now is None else now
    parsed = SiweMessage.parse(message)
    spent: CursorResult[Any] = db.execute(  # type: ignore[assignment]
        update(m.SiweNonce)
        .where(m.SiweNonce.nonce == parsed.nonce, m.SiweNonce.used.is_(False), m.SiweNonce.expires_at > now)
        .values(used=True)
    )
    if not spent.rowcount:
        known = db.get(m.SiweNonce, parsed.nonce)
        if known is None:
            raise SiweNonceError("the nonce was not issued by this server")
        if known.used:
            raise SiweNonceError("the nonce was already used: ask for a new one")
        raise SiweNonceError("the nonce expired: ask for a new one")
    db.commit()  # the nonce stays spent whatever happens next
    verified = verify_siwe(
        message,
        signature,
        domain=domain,
        nonce=parsed.nonce,
        now=datetime.fromtimestamp(now, UTC),
        chain_id=chain_id,
        scheme=scheme,
    )
    expires = now + session_s
    if verified.expiration_time is not None:
        expires = min(expires, int(verified.expiration_time.timestamp()))
    token = secrets.token_urlsafe(32)
    db.add(m.ApiSession(token_hash=_hash(token), address=verified.address, issued_at=now, expires_at=expires))
    db.flush()
    return IssuedSession(token, verified.address, expires)


def session_address(
    db: Session, *, token: str, now: int | None = None, cache: SessionCache | None = None
) -> str:
    """The address a session token was issued to (remembered in ``cache`` when given).

    Raises:
        AuthError: unknown, revoked or expired token.
    """
    now = int(time.time()) if now is None else now
    # Core on the session's connection: this runs on every request, the ORM layer is not needed
    t = m.ApiSession.__table__.c
    row = (
        db.connection()
        .execute(select(t.address, t.revoked, t.expires_at).where(t.token_hash == _hash(token)))
        .first()
    )
    if row is None or row.revoked:
        raise AuthError("unknown or signed-out session: sign in again")
    if row.expires_at <= now:
        raise AuthError("the session expired: sign in again")
    address: str = row.address
    if cache is not None:
        cache.put(token, address, row.expires_at)
    return address


def sign_out(db: Session, *, token: str) -> None:
    """Revoke a session token."""
    db.execute(update(m.ApiSession).where(m.ApiSession.token_hash == _hash(token)).values(revoked=True))
