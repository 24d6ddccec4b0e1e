"""The API on a real chain and a real read model: a world of registered, allocated and funded
enterprises with notices and an attestation, indexed; a client that signs in with SIWE."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from api.config import ApiSettings
from api.context import AppContext
from api.main import create_app
from chain.siwe import message_for_offer, wallet_sign_in
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from tests.conftest import Consortium
from tests.utils.compliance import ENTERPRISES, IDS, Cycle, setup_cycle

#: ``get(who, path, **params)``: a GET signed in as ``who``.
Get = Callable[..., httpx.Response]

#: The domain SIWE messages in tests name (the TestClient's host).
DOMAIN = "testserver"

#: Rate limits no test reaches (every request of a test comes from one client, and the fuzz test
#: sends thousands): set explicitly, the production defaults stay on. Rate-limit tests set their own.
UNTHROTTLED: dict[str, object] = {
    "api_rate_limit_client": "1000000/minute",
    "api_rate_limit_sign_in": "1000000/minute",
    "api_rate_limit_principal": "1000000/minute",
}


@dataclass
class ApiWorld:
    """A consortium with data, its read model, and a client of the API over both.

    Attributes:
        c: the consortium (clients and accounts).
        cycle: the compliance year set up by :func:`tests.utils.compliance.setup_cycle`.
        ctx: the API's context.
        client: a FastAPI TestClient (no embedded indexer: call :meth:`index`).
        indexer: the indexer writing the read model.
    """

    c: Consortium
    cycle: Cycle
    ctx: AppContext
    client: TestClient
    indexer: Indexer

    def index(self) -> int:
        """Index everything the chain has now; returns events indexed."""
        return self.indexer.catch_up()

    def sign_in(self, account: LocalAccount) -> dict[str, str]:
        """Headers of a session signed in as ``account`` through SIWE."""
        return {"Authorization": f"Bearer {sign_in(self.client, account)}"}


def siwe_message(client: TestClient, account: LocalAccount, **overrides: object) -> str:
    """A SIWE message for ``account`` with a fresh nonce from the API (fields overridable)."""
    offer = client.post("/auth/nonce").json()
    fields: dict[str, object] = {"statement": "Sign in to ETS Chain", **overrides}
    return message_for_offer(offer, account.address, **fields).to_text()


def sign_in(client: TestClient, account: LocalAccount) -> str:
    """A session token for ``account``."""
    return wallet_sign_in(client.post, account, statement="Sign in to ETS Chain")


#: Enterprises the world's auditor is assigned to (the regulator's on-chain assignment is its only
#: read scope): E0 and E1; E2 and E3 are out of its reach.
AUDITOR_ASSIGNED = tuple(e.address for e in ENTERPRISES[:2])


def make_world(c: Consortium, database_url: str, **settings: object) -> ApiWorld:
    """Set up the compliance world on ``c`` (the auditor assigned to E0 and E1 only), index it into
    ``database_url``, build the app."""
    cycle = setup_cycle(c)
    for enterprise in ENTERPRISES[2:]:
        if c.registry.is_auditor_assigned(c.auditor.address, enterprise.address):
            c.registry.unassign_auditor(c.regulator, c.auditor.address, enterprise.address)
    c.allowance.transfer(ENTERPRISES[0], ENTERPRISES[1].address, IDS[1], 25)
    cycle.attest(ENTERPRISES[0].address, 900, 50)
    api_settings = ApiSettings(database_url=database_url, api_domain=DOMAIN, api_role_cache_seconds=0,
                               **(UNTHROTTLED | settings))  # type: ignore[arg-type]  # fmt: skip
    engine = make_engine(database_url)
    upgrade(engine)
    ctx = AppContext(api_settings, c.chain, c.manifest, engine)
    indexer = Indexer(c.chain, c.manifest, engine)
    indexer.catch_up()
    client = TestClient(create_app(ctx, migrate=False, indexer=False), base_url=f"http://{DOMAIN}")
    return ApiWorld(c, cycle, ctx, client, indexer)


@pytest.fixture(scope="module")
def world(consortium: Consortium, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiWorld]:
    """One world per test module (SQLite read model); the chain is rolled back afterwards.
    Tests in a module share it: one that changes the chain calls ``world.index()``."""
    snapshot = consortium.snapshot()
    path = Path(tmp_path_factory.mktemp("api")) / f"read-{time.monotonic_ns()}.db"
    built = make_world(consortium, f"sqlite:///{path}")
    try:
        with built.client:
            yield built
    finally:
        built.ctx.engine.dispose()
        consortium.revert(snapshot)


@pytest.fixture(scope="module")
def get(world: ApiWorld) -> Get:
    """``get(who, path, **params)``: a GET signed in as ``who`` (sessions reused)."""
    sessions: dict[str, dict[str, str]] = {}

    def call(who: LocalAccount, path: str, /, **params: Any) -> httpx.Response:
        if who.address not in sessions:
            sessions[who.address] = world.sign_in(who)
        response: httpx.Response = world.client.get(path, params=params, headers=sessions[who.address])
        return response

    return call
