"""``ets api`` as an operator runs it: a real uvicorn with several worker processes on loopback,
over the session's chain and a fresh SQLite read model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from chain.node import free_port
from chain.siwe import wallet_sign_in
from tests.conftest import Consortium


def test_api_serves_reads_from_several_workers_with_json_request_logs(
    consortium: Consortium, tmp_path: Path
) -> None:
    port = free_port()
    env = dict(
        os.environ,
        ETS_RPC_URL=consortium.chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        ETS_MANIFEST=str(consortium.manifest_path),
        ETS_DATABASE_URL=f"sqlite:///{tmp_path}/read.db",
        ETS_STATE_DIR=str(tmp_path),
    )
    log = tmp_path / "api.log"
    with log.open("wb") as err:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "ets"), "api", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError(log.read_text()[-2000:])
        with httpx.Client(base_url=base) as client:
            token = wallet_sign_in(client.post, consortium.regulator)
            headers = {"Authorization": f"Bearer {token}"}
            me = client.get("/auth/me", headers=headers)
            assert me.status_code == 200 and "REGULATOR" in me.json()["roles"]
            for _ in range(20):  # several connections: both workers answer
                with httpx.Client(base_url=base, headers=headers) as fresh:
                    assert fresh.get("/auth/me").status_code == 200
    finally:
        server.terminate()
        server.wait(20)
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
    requests = [x for x in lines if x.get("message") == "request" and x.get("path") == "/auth/me"]
    assert len(requests) == 21, lines[-5:]
    assert {x["status"] for x in requests} == {200}


def test_api_refuses_to_start_on_a_public_host_without_an_explicit_domain(
    consortium: Consortium, tmp_path: Path
) -> None:
    env = dict(
        os.environ,
        ETS_RPC_URL=consortium.chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        ETS_MANIFEST=str(consortium.manifest_path),
        ETS_DATABASE_URL=f"sqlite:///{tmp_path}/read.db",
        ETS_STATE_DIR=str(tmp_path),
    )
    env.pop("ETS_API_DOMAIN", None)
    command = [
        str(Path(sys.executable).parent / "ets"),
        "api",
        "--host",
        "0.0.0.0",
        "--port",
        str(free_port()),
    ]
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0
    assert (
        "ETS_API_DOMAIN" in refused.stderr + refused.stdout and "0.0.0.0" in refused.stderr + refused.stdout
    )
