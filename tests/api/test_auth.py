"""Sign-In with Ethereum through the API: sessions, roles from the chain, every refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.auth import SessionCache, sign_out
from chain.accounts import dev_account
from chain.siwe import sign_siwe
from readmodel.migrate import head_revision
from tests.api.conftest import ApiWorld, siwe_message
from tests.utils.compliance import ENTERPRISES


def _verify(world: ApiWorld, message: str, signature: str) -> tuple[int, dict[str, object]]:
    response = world.client.post("/auth/verify", json={"message": message, "signature": signature})
    return response.status_code, response.json()


def test_sign_in_gives_roles_from_the_chain_for_each_role(world: ApiWorld) -> None:
    cases = [(world.c.regulator, "REGULATOR"), (world.c.exchange, "EXCHANGE"), (world.c.auditor, "AUDITOR"),
             (ENTERPRISES[0], "ENTERPRISE")]  # fmt: skip
    for account, role in cases:
        me = world.client.get("/auth/me", headers=world.sign_in(account))
        assert me.status_code == 200
        assert role in me.json()["roles"] and me.json()["address"] == account.address


def test_sign_in_gives_no_roles_to_an_outsider(world: ApiWorld) -> None:
    me = world.client.get("/auth/me", headers=world.sign_in(world.c.outsider))
    assert me.json()["roles"] == []


def test_verify_refuses_a_reused_nonce(world: ApiWorld) -> None:
    account = ENTERPRISES[0]
    message = siwe_message(world.client, account)
    assert _verify(world, message, sign_siwe(message, account))[0] == 200
    status, body = _verify(world, message, sign_siwe(message, account))
    assert status == 400 and body["error"] == "SiweNonceError" and "already used" in str(body["message"])


def test_verify_refuses_a_nonce_the_server_never_issued(world: ApiWorld) -> None:
    message = siwe_message(world.client, ENTERPRISES[0], nonce="madeUpNonce123")
    status, body = _verify(world, message, sign_siwe(message, ENTERPRISES[0]))
    assert status == 400 and "not issued" in str(body["message"])


def test_verify_refuses_an_expired_message(world: ApiWorld) -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    message = siwe_message(
        world.client, ENTERPRISES[0], issued_at=past - timedelta(minutes=5), expiration_time=past
    )
    status, body = _verify(world, message, sign_siwe(message, ENTERPRISES[0]))
    assert status == 400 and body["error"] == "SiweExpiredError"


def test_verify_refuses_another_domain_and_chain(world: ApiWorld) -> None:
    for overrides in ({"domain": "evil.example"}, {"chain_id": 1}):
        message = siwe_message(world.client, ENTERPRISES[0], **overrides)
        status, body = _verify(world, message, sign_siwe(message, ENTERPRISES[0]))
        assert status == 400 and body["error"] == "SiweDomainError"


def test_verify_refuses_a_signature_by_another_key(world: ApiWorld) -> None:
    message = siwe_message(world.client, ENTERPRISES[0])
    status, body = _verify(world, message, sign_siwe(message, dev_account(30)))
    assert status == 400 and body["error"] == "SiweSignatureError"


def test_verify_refuses_malformed_bodies(world: ApiWorld) -> None:
    assert (
        world.client.post(
            "/auth/verify", content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 422
    )
    assert world.client.post("/auth/verify", json={"message": 5, "signature": "0x00"}).status_code == 422
    status, body = _verify(world, "hello", "0x" + "00" * 65)
    assert status == 400 and body["error"] == "SiweMessageError"


def test_me_refuses_missing_unknown_and_signed_out_tokens(world: ApiWorld) -> None:
    assert world.client.get("/auth/me").status_code == 401
    assert world.client.get("/auth/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    headers = world.sign_in(ENTERPRISES[1])
    assert world.client.post("/auth/logout", headers=headers).status_code == 204
    response = world.client.get("/auth/me", headers=headers)
    assert response.status_code == 401 and "signed-out" in response.json()["message"]


def test_health_reports_chain_database_and_indexer(world: ApiWorld) -> None:
    world.index()
    body = world.client.get("/health").json()
    assert body["status"] == "ok", body
    assert body["indexer"]["lag_blocks"] == 0 and body["database"]["revision"] == head_revision() == "0017"


def test_session_cache_keeps_a_token_for_ttl_and_never_past_its_expiry() -> None:
    cache = SessionCache(ttl=2.0)
    cache.put("t1", "0xA", expires_at=1_000, now=100.0)
    assert cache.get("t1", now=101.9) == "0xA"
    assert cache.get("t1", now=102.0) is None  # ttl over: read the session table again
    cache.put("t2", "0xB", expires_at=101, now=100.0)
    assert cache.get("t2", now=100.5) == "0xB"
    assert cache.get("t2", now=101.0) is None  # the session itself expired first
    cache.drop("t1")
    assert cache.get("t1", now=100.5) is None


def test_session_cache_is_off_with_zero_ttl() -> None:
    cache = SessionCache(ttl=0)
    cache.put("t", "0xA", expires_at=10**12)
    assert cache.get("t") is None


def test_session_cache_forgets_old_entries_when_full() -> None:
    cache = SessionCache(ttl=5.0, max_entries=3)
    for i in range(3):
        cache.put(f"old{i}", "0xA", expires_at=10**12, now=0.0)
    cache.put("new", "0xB", expires_at=10**12, now=10.0)  # the three old ones have expired
    assert cache.get("new", now=10.0) == "0xB"
    assert all(cache.get(f"old{i}", now=1.0) is None for i in range(3))


def test_signed_out_elsewhere_is_refused_once_the_cache_entry_lapses(world: ApiWorld) -> None:
    """A sign-out through another API process reaches this one within the cache's ttl."""
    headers = world.sign_in(ENTERPRISES[2])
    token = headers["Authorization"].removeprefix("Bearer ")
    assert world.client.get("/auth/me", headers=headers).status_code == 200  # now cached
    with world.ctx.sessions() as db:  # what /auth/logout does in the other process
        sign_out(db, token=token)
        db.commit()
    assert world.ctx.session_cache.get(token) is not None
    world.ctx.session_cache.drop(token)  # as the ttl running out does
    response = world.client.get("/auth/me", headers=headers)
    assert response.status_code == 401 and "signed-out" in response.json()["message"]


def test_verify_accepts_a_scheme_before_the_domain_when_it_is_the_served_one(world: ApiWorld) -> None:
    offer = world.client.post("/auth/nonce").json()
    assert offer["scheme"] == world.ctx.settings.api_scheme == "http" and offer["uri"] == "http://testserver"
    message = siwe_message(world.client, ENTERPRISES[0], scheme="http")
    assert message.startswith("http://testserver wants you to sign in with your Ethereum account:")
    status, body = _verify(world, message, sign_siwe(message, ENTERPRISES[0]))
    assert status == 200 and body["address"] == ENTERPRISES[0].address, body


def test_verify_refuses_a_scheme_before_the_domain_when_it_is_not_the_served_one(world: ApiWorld) -> None:
    for scheme in ("https", "ftp"):
        message = siwe_message(world.client, ENTERPRISES[0], scheme=scheme)
        status, body = _verify(world, message, sign_siwe(message, ENTERPRISES[0]))
        assert status == 400 and body["error"] == "SiweDomainError", body
        assert f"scheme '{scheme}'" in str(body["message"])
