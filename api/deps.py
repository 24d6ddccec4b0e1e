"""Dependencies of the routes, as ``Annotated`` aliases: the context, a database session, the
signed-in principal (roles from the chain, never from the request), pagination."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.auth import session_address
from api.context import AppContext
from api.errors import AuthError, ForbiddenError


async def get_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_context)]


def _finish(session: Session, ok: bool) -> None:
    try:
        if ok:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


def _read_only_sqlite(session: Session) -> bool:
    """Whether the session's SQLite connection has no write transaction open (Python's sqlite3
    begins one only before a data change)."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return False
    raw = connection.connection.dbapi_connection
    return raw is not None and not getattr(raw, "in_transaction", True)


async def get_db(ctx: Ctx) -> AsyncIterator[Session]:
    """A read-model session, committed when the request succeeds.

    Opening a session does no I/O: it connects at its first query, in the route's thread. The
    commit and close run in a worker thread, except after a request that only read an SQLite
    file: then there is nothing to commit, closing is a few microseconds in-process, and every
    read spares a thread hop.
    """
    session = ctx.sessions()
    ok = False
    try:
        yield session
        ok = True
    finally:
        if not session.in_transaction() or _read_only_sqlite(session):
            session.close()
        else:
            await run_in_threadpool(_finish, session, ok)


#: Function scope: the session commits when the route returns, before the answer goes out, so a
#: client's next request (nonce -> verify -> read, build -> relay) sees what this one wrote.
Db = Annotated[Session, Depends(get_db, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="Session token from POST /auth/verify")


@dataclass(frozen=True)
class Principal:
    """The signed-in account and the roles the ConsortiumRegistry gives it.

    A suspended participant's roles grant nothing (``powers`` is empty): it reads what an account
    without a role reads (sign-in, health, the public subset) and gets 403 everywhere else, as
    the contracts refuse its acts. :mod:`api.access` holds the rules that use these.

    Attributes:
        address: checksummed account address.
        roles: role names held (``REGULATOR``, ``EXCHANGE``, ``ENTERPRISE``, ``AUDITOR`` ...).
        suspended: suspended by the regulator (whatever its roles).
        token: the session token (to sign out).
    """

    address: str
    roles: frozenset[str]
    suspended: bool
    token: str

    @property
    def powers(self) -> frozenset[str]:
        """The roles that grant something: all held roles, none while suspended."""
        return frozenset() if self.suspended else self.roles

    @property
    def is_regulator(self) -> bool:
        return "REGULATOR" in self.powers

    @property
    def sees_everything(self) -> bool:
        """Active regulators and the exchange read every account's data."""
        return bool(self.powers & {"REGULATOR", "EXCHANGE"})

    def has(self, role: str) -> bool:
        """Whether the principal holds ``role`` and is not suspended."""
        return role in self.powers

    def require(self, *roles: str) -> None:
        """Raises ForbiddenError unless the principal holds one of ``roles`` (any role when none
        is named) and is not suspended."""
        if self.suspended and self.roles:
            raise ForbiddenError(f"{self.address} is suspended: its roles grant nothing until reinstated")
        wanted = set(roles) if roles else set(self.roles)
        if not self.powers & wanted:
            needed = ", ".join(roles) if roles else "any consortium role"
            raise ForbiddenError(f"{self.address} needs one of the roles {needed}")

    def own_or_privileged(self, account: str) -> None:
        """Raises ForbiddenError unless ``account`` is the principal's own or it sees everything."""
        if not self.sees_everything and account.lower() != self.address.lower():
            raise ForbiddenError(f"{self.address} may not read the data of {account}")


async def current_principal(
    ctx: Ctx, db: Db, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The principal of the request's ``Authorization: Bearer`` session token.

    A token this process checked in the last ``api_session_cache_seconds`` is not read again;
    otherwise the session table is read in a worker thread. Each request counts against the
    account's rate limit (``api_rate_limit_principal``, whichever session it comes with). Roles
    come from the registry (cached for ``api_role_cache_seconds``).

    Raises:
        AuthError: no token, or an unknown, revoked or expired one.
        RateLimitedError: the account is over its rate limit.
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthError("sign in first: send `Authorization: Bearer <token>` from POST /auth/verify")
    token = credentials.credentials
    address = ctx.session_cache.get(token)
    if address is None:
        address = await run_in_threadpool(session_address, db, token=token, cache=ctx.session_cache)
    ctx.rate_limits.hit_principal(address)
    held = ctx.roles.cached(address)
    if held is None:
        held = await run_in_threadpool(ctx.roles.of, address)
    return Principal(address, held.roles, held.suspended, token)


User = Annotated[Principal, Depends(current_principal)]


@dataclass(frozen=True)
class PageParams:
    """``limit`` rows from ``offset``."""

    limit: int
    offset: int


def page_params(
    limit: Annotated[int, Query(ge=1, le=1000, description="Rows per page (1..1000)")] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000_000, description="Rows to skip")] = 0,
) -> PageParams:
    return PageParams(limit, offset)


Paging = Annotated[PageParams, Depends(page_params)]
