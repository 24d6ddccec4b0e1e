"""Settlement settings from the environment: fee schedule as JSON, unknown movement types and bad
values refused, the calendar and bank file they describe."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pytest

from settlement.config import SettlementSettings
from settlement.errors import SettlementError


def test_load_reads_fees_calendar_and_bank_dir_when_env_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    holidays = tmp_path / "holidays.txt"
    holidays.write_text("2027-10-01 National Day\n")
    monkeypatch.setenv("ETS_SETTLE_FEES", '{"transfer": {"per_tonne": 2}, "auction_purchase": {"bps": 5}}')
    monkeypatch.setenv("ETS_SETTLE_HOLIDAYS_FILE", str(holidays))
    monkeypatch.setenv("ETS_SETTLE_CLOSE", "15:30")
    monkeypatch.setenv("ETS_SETTLE_BANK_DIR", str(tmp_path / "bank"))
    settings = SettlementSettings.load()
    assert settings.fees["transfer"].per_tonne == 2 and settings.fees["auction_purchase"].bps == 5
    calendar = settings.calendar()
    assert calendar.close == time(15, 30) and not calendar.is_trading_day(date(2027, 10, 1))
    assert settings.bank_file(20270630) == tmp_path / "bank" / "bank-20270630.csv"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ETS_SETTLE_FEES", '{"swap": {"bps": 1}}', "unknown movement types"),
        ("ETS_SETTLE_FEES", '{"transfer": {"bps": 20000}}', "ETS_SETTLE_FEES"),
        ("ETS_SETTLE_MARGIN_MINUTES", "-1", "ETS_SETTLE_MARGIN_MINUTES"),
    ],
)
def test_load_refused_when_value_invalid(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettlementError, match=message):
        SettlementSettings.load()
