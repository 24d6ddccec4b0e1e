"""The API's settings: ETS_* variables, checked when the process starts."""

from __future__ import annotations

import pytest

from api.config import ApiSettings
from api.errors import ApiConfigError


def test_settings_take_serving_knobs_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETS_API_THREADS", "6")
    monkeypatch.setenv("ETS_API_SESSION_CACHE_SECONDS", "0")
    monkeypatch.setenv("ETS_API_RELAY_WAIT_SECONDS", "90")
    settings = ApiSettings.load()
    assert (settings.api_threads, settings.api_session_cache_seconds, settings.api_relay_wait_seconds) == (
        6,
        0.0,
        90.0,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ETS_API_THREADS", "0"),
        ("ETS_API_THREADS", "many"),
        ("ETS_API_RELAY_WAIT_SECONDS", "0"),
        ("ETS_API_RELAY_WAIT_SECONDS", "3600"),
        ("ETS_INDEXER_PAGE_BLOCKS", "0"),
    ],
)
def test_settings_refuse_out_of_range_values_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ApiConfigError, match=name):
        ApiSettings.load()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "ets.example"])
def test_settings_refuse_a_public_host_without_an_explicit_domain(
    monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    monkeypatch.setenv("ETS_API_HOST", host)
    monkeypatch.delenv("ETS_API_DOMAIN", raising=False)
    with pytest.raises(ApiConfigError, match="ETS_API_DOMAIN"):
        ApiSettings.load()
    monkeypatch.setenv("ETS_API_DOMAIN", "ets.example")
    assert ApiSettings.load().domain == "ets.example"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.5"])
def test_settings_derive_the_domain_when_the_host_is_loopback(
    monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    monkeypatch.setenv("ETS_API_HOST", host)
    monkeypatch.setenv("ETS_API_PORT", "8123")
    monkeypatch.delenv("ETS_API_DOMAIN", raising=False)
    assert ApiSettings.load().domain == f"{host}:8123"


def test_settings_refuse_a_rate_limit_that_is_not_limits_notation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETS_API_RATE_LIMIT_CLIENT", "lots")
    with pytest.raises(ApiConfigError, match="ETS_API_RATE_LIMIT_CLIENT"):
        ApiSettings.load()
