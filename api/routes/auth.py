"""Sign-In with Ethereum: a nonce, a signed EIP-4361 message, a session token."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.auth import issue_nonce, sign_in, sign_out
from api.deps import Ctx, Db, User
from api.schemas import ERRORS

router = APIRouter(prefix="/auth", tags=["auth"])


class NoncePublic(BaseModel):
    """A nonce to put in a SIWE message, and the fields the message must carry."""

    nonce: str = Field(examples=["k3J9x2QpLm7VbN4sT"])
    domain: str = Field(description="The `domain` the message must name", examples=["127.0.0.1:8000"])
    uri: str = Field(description="A suitable `URI:` line", examples=["http://127.0.0.1:8000"])
    scheme: str = Field(
        description="The scheme the API is served on: a message may write it before the domain "
        "(`https://ets.example wants you to sign in ...`); any other scheme there is refused",
        examples=["http"],
    )
    chain_id: int = Field(examples=[31337])
    expires_at: int = Field(description="The nonce is refused after this time (unix s)")


class SignIn(BaseModel):
    """A signed EIP-4361 message."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "message": "127.0.0.1:8000 wants you to sign in with your Ethereum account:\n"
                   "0x70997970C51812dc3A010C7d01b50e0d17dc79C8\n\nSign in to ETS Chain\n\n"
                   "URI: http://127.0.0.1:8000\nVersion: 1\nChain ID: 31337\nNonce: k3J9x2QpLm7VbN4sT\n"
                   "Issued At: 2027-03-01T08:00:00Z",
        "signature": "0x" + "ab" * 65,
    }]})  # fmt: skip

    message: str = Field(min_length=1, max_length=16_384)
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]*$", max_length=200)


class SessionPublic(BaseModel):
    """A session: send `Authorization: Bearer <token>` with every request."""

    token: str
    address: str
    roles: list[str]
    expires_at: int


class MePublic(BaseModel):
    """The signed-in account, with its roles as the ConsortiumRegistry has them now."""

    address: str
    roles: list[str]
    suspended: bool


@router.post("/nonce", response_model=NoncePublic, responses=ERRORS)
def nonce(ctx: Ctx, db: Db) -> NoncePublic:
    """A single-use nonce for a Sign-In with Ethereum message (valid for a few minutes)."""
    row = issue_nonce(db, lifetime_s=ctx.settings.api_nonce_minutes * 60)
    settings = ctx.settings
    return NoncePublic(
        nonce=row.nonce,
        domain=settings.domain,
        uri=settings.origin,
        scheme=settings.api_scheme,
        chain_id=ctx.chain.chain_id,
        expires_at=row.expires_at,
    )


@router.post("/verify", response_model=SessionPublic, responses=ERRORS)
def verify(body: SignIn, ctx: Ctx, db: Db) -> SessionPublic:
    """Check a signed SIWE message (domain and, when written, scheme; chain, nonce unused and
    unexpired, times, signer) and open a session. Roles come from the chain, not from the message."""
    issued = sign_in(
        db, message=body.message, signature=body.signature, domain=ctx.settings.domain,
        scheme=ctx.settings.api_scheme,
        chain_id=ctx.chain.chain_id, session_s=ctx.settings.api_session_minutes * 60,
    )  # fmt: skip
    ctx.roles.forget(issued.address)
    roles = ctx.roles.of(issued.address)
    return SessionPublic(token=issued.token, address=issued.address, roles=sorted(roles.roles),
                         expires_at=issued.expires_at)  # fmt: skip


@router.get("/me", response_model=MePublic, responses=ERRORS)
def me(user: User) -> MePublic:
    """Who the session belongs to and what the registry lets them do."""
    return MePublic(address=user.address, roles=sorted(user.roles), suspended=user.suspended)


@router.post("/logout", status_code=204, responses=ERRORS)
def logout(user: User, ctx: Ctx, db: Db) -> None:
    """End the session."""
    sign_out(db, token=user.token)
    ctx.session_cache.drop(user.token)
