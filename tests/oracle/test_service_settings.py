"""Oracle gateway settings read from the environment (the only place that reads it), the
device keystores' password, and the site file with its per-device access passwords."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from oracle.errors import GatewayConfigError
from oracle.service import DeviceEntry, OracleService, OracleSettings, SiteConfig


def test_oracle_settings_split_comma_separated_serial_ports_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ETS_ORACLE_SERIAL_PORTS", "/dev/ttyUSB0,rfc2217://127.0.0.1:4001")
    monkeypatch.setenv("ETS_ORACLE_SITE", "site.json")
    assert OracleSettings().serial_ports == ["/dev/ttyUSB0", "rfc2217://127.0.0.1:4001"]


def test_oracle_settings_read_one_serial_port_and_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETS_ORACLE_SITE", "site.json")
    monkeypatch.setenv("ETS_ORACLE_SERIAL_PORTS", "/dev/ttyS1")
    assert OracleSettings().serial_ports == ["/dev/ttyS1"]
    monkeypatch.setenv("ETS_ORACLE_SERIAL_PORTS", "")
    assert OracleSettings().serial_ports == []


# --- the device keystores' password (issue 17 item 21) ----------------------------------------


def site(tmp_path: Path) -> SiteConfig:
    return SiteConfig(
        devices=[
            DeviceEntry(
                mn="33100000000001",
                enterprise="0x00000000000000000000000000000000000000a1",
                password=SecretStr("pw-000001"),
                keystore=tmp_path / "keys" / "33100000000001.json",
            )
        ]
    )


def test_oracle_settings_refuse_an_empty_keystore_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETS_ORACLE_KEYSTORE_PASSWORD", "")
    with pytest.raises(ValidationError, match="must not be empty"):
        OracleSettings()


def test_oracle_service_refuses_to_start_without_a_keystore_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ETS_ORACLE_KEYSTORE_PASSWORD", raising=False)
    settings = OracleSettings()
    with pytest.raises(GatewayConfigError, match="ETS_ORACLE_KEYSTORE_PASSWORD"):
        settings.device_keystore_password()
    with pytest.raises(GatewayConfigError, match="no device keystore password"):
        # refused before any keystore, chain or queue is touched
        OracleService(
            settings,
            site(tmp_path),
            chain=None,
            manifest=None,
            oracle_account=None,
            queue_path=tmp_path / "q.db",
        )
    assert not (tmp_path / "q.db").exists()


def test_oracle_settings_take_an_explicit_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETS_ORACLE_KEYSTORE_PASSWORD", "s3cret")
    assert OracleSettings().device_keystore_password() == "s3cret"
    assert "s3cret" not in repr(OracleSettings())


# --- the site file: per-device access passwords (issue 17 item 1) ------------------------------


def test_site_file_keeps_device_passwords_in_a_0600_file_and_loads_them(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = site(tmp_path).save(tmp_path / "oracle" / "site.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text())["devices"][0]["password"] == "pw-000001"
    loaded = SiteConfig.load(path)
    assert loaded.devices[0].password.get_secret_value() == "pw-000001"
    assert "pw-000001" not in repr(loaded)
    site(tmp_path).save(path)  # replaced, not refused
    assert SiteConfig.load(path).devices[0].mn == "33100000000001"


@pytest.mark.parametrize("password", [None, "", "a;b", "pw=1"])
def test_site_file_refuses_a_device_without_a_usable_password(tmp_path: Path, password: str | None) -> None:
    entry: dict[str, object] = {
        "mn": "33100000000001",
        "enterprise": "0x00000000000000000000000000000000000000a1",
        "keystore": "keys/d.json",
    }
    if password is not None:
        entry["password"] = password
    path = tmp_path / "site.json"
    path.write_text(json.dumps({"devices": [entry]}))
    with pytest.raises(GatewayConfigError, match=r"devices\.0\.password"):
        SiteConfig.load(path)


def test_site_file_example_in_the_operations_notes_loads() -> None:
    example = Path(__file__).resolve().parents[2] / "node-config" / "oracle" / "site.example.json"
    loaded = SiteConfig.load(example)
    passwords = [d.password.get_secret_value() for d in loaded.devices]
    assert len(set(passwords)) == len(passwords) == 2  # one password per controller
    assert all(d.keystore.parent == example.parent / "keys" for d in loaded.devices)


def test_oracle_settings_read_the_gateway_limits_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ETS_ORACLE_CLOCK_TOLERANCE_SECONDS", "120")
    monkeypatch.setenv("ETS_ORACLE_TCP_MAX_CONNECTIONS_PER_ADDRESS", "64")
    monkeypatch.setenv("ETS_ORACLE_MAX_SPLIT_PACKETS", "8")
    monkeypatch.setenv("ETS_ORACLE_MAX_PENDING_BYTES", "65536")
    settings = OracleSettings()
    assert (settings.clock_tolerance_seconds, settings.tcp_max_connections_per_address) == (120, 64)
    assert (settings.max_split_packets, settings.max_pending_bytes) == (8, 65536)
    monkeypatch.setenv("ETS_ORACLE_MAX_SPLIT_PACKETS", "10000")  # beyond HJ 212's PNUM
    with pytest.raises(ValidationError):
        OracleSettings()
