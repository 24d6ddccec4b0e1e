"""Dependencies of the routes, as ``Annotated`` aliases: the context, a database session, the
signed-in principal (roles from the chain, never from the request), pagination."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.auth import session_address
from api.context import AppContext
from api.errors import AuthError, ForbiddenError


def get_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_context)]


def get_db(ctx: Ctx) -> Iterator[Session]:
    """A read-model session, committed when the request succeeds."""
    session = ctx.sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


Db = Annotated[Session, Depends(get_db)]

_bearer = HTTPBearer(auto_error=False, description="Session token from POST /auth/verify")


@dataclass(frozen=True)
class Principal:
    """The signed-in account and the roles the ConsortiumRegistry gives it.

    Attributes:
        address: checksummed account address.
        roles: role names (``REGULATOR``, ``EXCHANGE``, ``ENTERPRISE``, ``AUDITOR`` ...).
        suspended: an enterprise suspended by the regulator (reads allowed, acts refused on-chain).
        token: the session token (to sign out).
    """

    address: str
    roles: frozenset[str]
    suspended: bool
    token: str

    @property
    def is_regulator(self) -> bool:
        return "REGULATOR" in self.roles

    @property
    def sees_everything(self) -> bool:
        """Regulators and the exchange read every account's data."""
        return bool(self.roles & {"REGULATOR", "EXCHANGE"})

    def require(self, *roles: str) -> None:
        """Raises ForbiddenError unless the principal holds one of ``roles``."""
        if not self.roles & set(roles):
            raise ForbiddenError(f"{self.address} needs one of the roles {', '.join(roles)}")

    def own_or_privileged(self, account: str) -> None:
        """Raises ForbiddenError unless ``account`` is the principal's own or it sees everything."""
        if not self.sees_everything and account.lower() != self.address.lower():
            raise ForbiddenError(f"{self.address} may not read the data of {account}")


def current_principal(
    ctx: Ctx, db: Db, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The principal of the request's ``Authorization: Bearer`` session token.

    Raises:
        AuthError: no token, or an unknown, revoked or expired one.
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthError("sign in first: send `Authorization: Bearer <token>` from POST /auth/verify")
    address = session_address(db, token=credentials.credentials)
    held = ctx.roles.of(address)
    return Principal(address, held.roles, held.suspended, credentials.credentials)


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
