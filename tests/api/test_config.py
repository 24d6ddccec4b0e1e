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
