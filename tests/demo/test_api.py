"""The demo's closing step: the API and the dashboard served on loopback, and what it says."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from chain.accounts import demo_account
from chain.config import ChainSettings
from chain.node import AnvilNode
from chain.siwe import wallet_sign_in
from demo.api import API_PORT_FILE, SIGN_IN_ROLES, api_socket, demo_server, sign_in_lines
from tests.conftest import Consortium
from tests.dashboard.conftest import free_port


def test_demo_server_serves_dashboard_and_signs_in_each_role_when_started(
    anvil: AnvilNode, consortium: Consortium, tmp_path: Path
) -> None:
    consortium.manifest.save(tmp_path / "deployment.json")
    settings = ChainSettings(rpc_url=anvil.url, state_dir=tmp_path, demo=True)
    port = free_port()
    served = demo_server(settings, port=port)
    assert served.url == f"http://127.0.0.1:{port}/dashboard/"
    thread = threading.Thread(target=served.run, name="demo-serve", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not served.server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the demo server did not start"
            time.sleep(0.05)
        with httpx.Client(base_url=served.url.removesuffix("/dashboard/"), timeout=30) as client:
            page = client.get("/dashboard/")
            assert page.status_code == 200 and "ETS Chain" in page.text
            config = client.get("/dashboard/api/config").json()
            assert config["demo"] is True  # the page signs with the demo keys, no wallet needed
            listed = {a["name"]: a["address"] for a in config["accounts"]}
            for name, view, _ in SIGN_IN_ROLES:
                account = demo_account(name)
                assert listed[name] == account.address
                token = wallet_sign_in(client.post, account)
                me = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
                assert me.status_code == 200, (view, me.text)
    finally:
        served.server.should_exit = True  # what Ctrl-C does
        thread.join(timeout=15)
    assert not thread.is_alive()


def test_sign_in_lines_name_address_and_each_role_when_printed() -> None:
    lines = sign_in_lines("http://127.0.0.1:8000/dashboard/")
    text = "\n".join(lines)
    assert lines[0].startswith("Dashboard: http://127.0.0.1:8000/dashboard/")
    assert "http://127.0.0.1:8000/docs" in lines[0] and "Ctrl-C" in text
    for name, view, _ in SIGN_IN_ROLES:
        assert f"{demo_account(name).address}  → {view} view" in text


def test_api_socket_reuses_its_recorded_port_and_never_another_demos(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    with api_socket(first) as sock:
        port = sock.getsockname()[1]
    assert (first / API_PORT_FILE).read_text() == f"{port}\n"
    with api_socket(first) as again:  # a re-run: the same port
        assert again.getsockname()[1] == port
        (second / API_PORT_FILE).write_text(f"{port}\n")  # another demo that recorded it too
        with api_socket(second) as other:
            assert other.getsockname()[1] != port
            assert (second / API_PORT_FILE).read_text() == f"{other.getsockname()[1]}\n"
