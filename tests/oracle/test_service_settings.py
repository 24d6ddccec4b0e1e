"""Oracle gateway settings read from the environment (the only place that reads it)."""

from __future__ import annotations

import pytest

from oracle.service import OracleSettings


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
