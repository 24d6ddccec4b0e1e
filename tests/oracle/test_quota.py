"""Tests of the card-swipe quota controller: splits, discharge, swipes, alarms, valve, state."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oracle.errors import (
    CardRefusedError,
    DischargeError,
    ForeignCardError,
    QuotaConfigError,
    QuotaError,
    QuotaNotAllocatedError,
    QuotaSplitError,
    QuotaStateError,
    QuotaTimeError,
    UnknownCardError,
)
from oracle.hj212 import Frame, encode, parse
from oracle.quota import (
    AnnualQuota,
    ListNotifier,
    LoggingNotifier,
    LoggingValve,
    Notifier,
    QuotaAlarm,
    QuotaController,
    QuotaState,
    Valve,
    discharge_kg,
    even_split,
    explicit_split,
    quarterly_split,
    weighted_split,
)

ENTERPRISE = "E-331002-0001"
CARD = "IC-0001"
D = Decimal

# --- helpers ------------------------------------------------------------------------------


def frame(
    when: datetime,
    values: dict[str, dict[str, str]],
    *,
    cn: str = "2051",
    mn: str = "TZ0001",
) -> Frame:
    return parse(encode(st="32", cn=cn, pw="123456", mn=mn, flag=4, datatime=when, values=values))


def cod(when: datetime, kg: str) -> Frame:
    """A minute frame reporting ``kg`` of COD discharged in its period."""
    return frame(when, {"w01018": {"Avg": "50.0", "Cou": kg, "Flag": "N"}, "w00000": {"Cou": "1.0"}})


def controller(
    *,
    cod_kg: str = "1200",
    nh3_kg: str = "120",
    so2_kg: str | None = None,
    year: int = 2024,
    **kwargs: object,
) -> tuple[QuotaController, ListNotifier, LoggingValve]:
    quotas = [AnnualQuota.even("w01018", year, cod_kg), AnnualQuota.even("w21003", year, nh3_kg)]
    if so2_kg is not None:
        quotas.append(AnnualQuota.even("a21026", year, so2_kg))
    notifier, valve = ListNotifier(), LoggingValve()
    cards = {CARD: ENTERPRISE, "IC-0002": "E-331002-0002"}
    made = QuotaController(ENTERPRISE, quotas, cards, notifier=notifier, valve=valve, **kwargs)  # type: ignore[arg-type]
    return made, notifier, valve


MARCH = datetime(2024, 3, 1, 8, 0)


# --- splits -------------------------------------------------------------------------------


def test_even_split_gives_leftover_grams_to_first_months() -> None:
    months = even_split("100.005")  # 100,005 g = 12 x 8,333 g + 9 g
    assert sum(months) == D("100.005")
    assert months[:9] == (D("8.334"),) * 9
    assert months[9:] == (D("8.333"),) * 3


@settings(max_examples=300, deadline=None)
@given(
    grams=st.integers(min_value=0, max_value=10**15),
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=12, max_size=12).filter(any),
)
def test_weighted_split_sums_to_annual_quota_for_any_quota_and_weights(
    grams: int, weights: list[int]
) -> None:
    annual = D(grams).scaleb(-3)
    months = weighted_split(annual, weights)
    assert sum(months) == annual
    total = sum(weights)
    for amount, weight in zip(months, weights, strict=True):
        assert amount >= 0 and amount == amount.quantize(D("0.001"))
        assert abs(Fraction(amount) * 1000 - Fraction(grams * weight, total)) < 1  # within a gram


@settings(max_examples=300, deadline=None)
@given(
    grams=st.integers(min_value=0, max_value=10**15),
    quarters=st.lists(
        st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False, allow_infinity=False),
        min_size=4,
        max_size=4,
    ).filter(any),
)
def test_quarterly_split_sums_to_annual_quota_for_any_quota_and_quarters(
    grams: int, quarters: list[Decimal]
) -> None:
    annual = D(grams).scaleb(-3)
    months = quarterly_split(annual, quarters)
    assert len(months) == 12 and sum(months) == annual
    quarter_sums = [sum(months[i : i + 3]) for i in range(0, 12, 3)]
    for months_of_quarter in (months[i : i + 3] for i in range(0, 12, 3)):
        assert max(months_of_quarter) - min(months_of_quarter) <= D("0.001")  # even inside
    assert sum(quarter_sums) == annual


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**12), min_size=12, max_size=12))
def test_explicit_split_accepts_exact_sum_and_refuses_any_other(grams: list[int]) -> None:
    months = [D(g).scaleb(-3) for g in grams]
    annual = sum(months, D(0))
    assert explicit_split(annual, months) == tuple(months)
    with pytest.raises(QuotaSplitError):
        explicit_split(annual + D("0.001"), months)


def test_quarterly_split_reproduces_requested_quarter_amounts() -> None:
    quota = AnnualQuota.quarterly("w01018", 2024, "1000", ["100", "300", "400", "200"])
    assert quota.monthly_kg[:3] == (D("33.334"), D("33.333"), D("33.333"))
    assert [sum(quota.monthly_kg[i : i + 3]) for i in range(0, 12, 3)] == [100, 300, 400, 200]
    assert quota.annual_kg == D("1000.000")


@pytest.mark.parametrize(
    ("call", "args"),
    [
        pytest.param(even_split, (1000.0,), id="float-quota"),
        pytest.param(even_split, ("-1",), id="negative-quota"),
        pytest.param(even_split, ("0.0005",), id="sub-gram-quota"),
        pytest.param(even_split, ("abc",), id="not-a-number"),
        pytest.param(even_split, ("Infinity",), id="infinite"),
        pytest.param(weighted_split, ("12", [1] * 11), id="eleven-weights"),
        pytest.param(weighted_split, ("12", [0] * 12), id="all-zero-weights"),
        pytest.param(weighted_split, ("12", [1] * 11 + [-1]), id="negative-weight"),
        pytest.param(quarterly_split, ("12", [1, 1, 1]), id="three-quarters"),
        pytest.param(explicit_split, ("12", ["1"] * 11), id="eleven-months"),
        pytest.param(explicit_split, ("12", ["1"] * 11 + ["1.0001"]), id="sub-gram-month"),
    ],
)
def test_split_raises_split_error_for_invalid_input(call: object, args: tuple[object, ...]) -> None:
    with pytest.raises(QuotaSplitError) as caught:
        call(*args)  # type: ignore[operator]
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, QuotaError)


def test_annual_quota_refuses_months_that_do_not_sum_to_annual() -> None:
    with pytest.raises(QuotaSplitError):
        AnnualQuota("w01018", 2024, D("12.000"), (D("1.000"),) * 11 + (D("2.000"),))


def test_annual_quota_month_returns_that_months_amount() -> None:
    quota = AnnualQuota.explicit("w01018", 2024, "78", [str(m) for m in range(1, 13)])
    assert quota.month(1) == 1 and quota.month(12) == 12


# --- discharge ----------------------------------------------------------------------------


def test_discharge_kg_uses_cou_when_sent() -> None:
    f = frame(MARCH, {"w01018": {"Avg": "50", "Cou": "1.25"}, "w00000": {"Cou": "10"}})
    assert discharge_kg(f) == {"w01018": D("1.25")}


def test_discharge_kg_integrates_water_concentration_over_flow_volume() -> None:
    # 50 mg/L x 120 m³ = 6,000 g = 6 kg; 2.5 mg/L x 120 m³ = 0.3 kg.
    f = frame(MARCH, {"w01018": {"Avg": "50"}, "w21003": {"Avg": "2.5"}, "w00000": {"Cou": "120"}})
    assert discharge_kg(f) == {"w01018": D("6"), "w21003": D("0.3")}


def test_discharge_kg_integrates_water_flow_rate_over_interval() -> None:
    # 2 L/s x 60 s = 0.12 m³; 50 mg/L x 0.12 m³ = 6 g = 0.006 kg.
    f = frame(MARCH, {"w01018": {"Rtd": "50"}, "w00000": {"Avg": "2"}})
    assert discharge_kg(f, interval=timedelta(minutes=1)) == {"w01018": D("0.006")}


def test_discharge_kg_integrates_gas_over_hour_of_hour_data() -> None:
    # 100 mg/m³ x 10 m³/s x 3,600 s = 3,600,000 mg = 3.6 kg (hour data covers one hour).
    f = frame(MARCH, {"a21026": {"Avg": "100"}, "a00000": {"Avg": "10"}, "a19001": {"Avg": "8"}}, cn="2061")
    assert discharge_kg(f) == {"a21026": D("3.6")}


def test_discharge_kg_is_exact_for_decimal_readings() -> None:
    f = frame(MARCH, {"w01018": {"Avg": "33.3"}, "w00000": {"Cou": "0.3"}})
    assert discharge_kg(f)["w01018"] == D("0.00999")  # 33.3 x 0.3 = 9.99 g, not 0.009990000001


def test_discharge_kg_leaves_out_flows_ph_and_unknown_codes() -> None:
    f = frame(MARCH, {"w01001": {"Avg": "7.1"}, "w00000": {"Cou": "5"}, "x99999": {"Avg": "1"}})
    assert discharge_kg(f) == {}


def test_discharge_kg_counts_negative_value_as_zero(caplog: pytest.LogCaptureFixture) -> None:
    f = frame(MARCH, {"w01018": {"Cou": "-0.5"}})
    assert discharge_kg(f) == {"w01018": D(0)}
    assert "negative discharge" in caplog.text


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"w01018": {"Avg": "50"}, "w00000": {"Avg": "2"}}, id="rate-without-interval"),
        pytest.param({"w01018": {"Avg": "50"}}, id="no-flow"),
        pytest.param({"a21026": {"Avg": "50"}, "w00000": {"Cou": "2"}}, id="gas-without-gas-flow"),
    ],
)
def test_discharge_kg_raises_discharge_error_without_volume(values: dict[str, dict[str, str]]) -> None:
    with pytest.raises(DischargeError):
        discharge_kg(frame(MARCH, values))


# --- cards and loads ----------------------------------------------------------------------


def test_swipe_loads_month_quota_once_per_month() -> None:
    quota, _, _ = controller()
    assert quota.swipe(CARD, at=MARCH) is True
    assert quota.balance("w01018").loaded_kg == D("100.000")
    assert quota.swipe(CARD, at=MARCH + timedelta(days=3)) is False
    assert quota.balance("w01018").loaded_kg == D("100.000")
    assert quota.balance("w21003").loaded_kg == D("10.000")
    assert quota.swiped and quota.month == (2024, 3)


@pytest.mark.parametrize(
    ("card", "error"),
    [("IC-9999", UnknownCardError), ("IC-0002", ForeignCardError)],
    ids=["unknown-card", "other-enterprise-card"],
)
def test_swipe_raises_card_refused_for_wrong_card(card: str, error: type[CardRefusedError]) -> None:
    quota, _, _ = controller()
    with pytest.raises(error) as caught:
        quota.swipe(card, at=MARCH)
    assert isinstance(caught.value, PermissionError)
    assert quota.month is None and not quota.swiped  # nothing loaded, no month started


def test_swipe_raises_not_allocated_for_year_without_quota() -> None:
    quota, _, _ = controller(year=2023)
    with pytest.raises(QuotaNotAllocatedError):
        quota.swipe(CARD, at=MARCH)


def test_swipe_raises_time_error_for_earlier_month() -> None:
    quota, _, _ = controller()
    quota.swipe(CARD, at=MARCH)
    with pytest.raises(QuotaTimeError):
        quota.swipe(CARD, at=MARCH - timedelta(days=1))


def test_top_up_adds_to_current_month_only() -> None:
    quota, _, _ = controller()
    quota.swipe(CARD, at=MARCH)
    quota.top_up("w01018", "25.5", at=MARCH + timedelta(days=2), reference="TZ-2024-17")
    assert quota.balance("w01018").loaded_kg == D("125.500")
    quota.observe(cod(datetime(2024, 4, 1), "1"))
    assert quota.balance("w01018").loaded_kg == 0  # April: nothing loaded yet, no carry-over


@pytest.mark.parametrize(
    ("pollutant", "amount", "error"),
    [
        ("w01018", "0", QuotaSplitError),
        ("w01018", "-1", QuotaSplitError),
        ("w01018", "0.0001", QuotaSplitError),
        ("a21026", "1", QuotaNotAllocatedError),
    ],
    ids=["zero", "negative", "sub-gram", "no-quota"],
)
def test_top_up_raises_for_invalid_amount_or_pollutant(
    pollutant: str, amount: str, error: type[Exception]
) -> None:
    quota, _, _ = controller()
    quota.swipe(CARD, at=MARCH)
    with pytest.raises(error):
        quota.top_up(pollutant, amount, at=MARCH)


# --- alarms and valve ---------------------------------------------------------------------


def test_alarms_fire_once_each_in_threshold_order() -> None:
    quota, notifier, _ = controller()
    quota.swipe(CARD, at=MARCH)  # 100 kg COD loaded
    raised: list[QuotaAlarm] = []
    for minute in range(130):  # 1 kg a minute, up to 130 % of the month's quota
        raised += quota.observe(cod(MARCH + timedelta(minutes=minute + 1), "1"))
    assert [a.threshold for a in notifier.alarms] == [D("0.80"), D("0.90"), D("1.00")]
    assert raised == notifier.alarms
    assert [a.used_kg for a in notifier.alarms] == [D(80), D(90), D(100)]
    assert [a.at for a in notifier.alarms] == [MARCH + timedelta(minutes=m) for m in (80, 90, 100)]
    assert {(a.pollutant, a.year, a.month, a.loaded_kg) for a in notifier.alarms} == {
        ("w01018", 2024, 3, D("100.000"))
    }


def test_alarms_fire_in_order_when_one_frame_crosses_all_thresholds() -> None:
    quota, notifier, _ = controller()
    quota.swipe(CARD, at=MARCH)
    quota.observe(cod(MARCH + timedelta(minutes=1), "79.999"))
    assert notifier.alarms == []
    quota.observe(cod(MARCH + timedelta(minutes=2), "500"))
    assert [a.threshold for a in notifier.alarms] == [D("0.80"), D("0.90"), D("1.00")]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40_000), min_size=1, max_size=40))
def test_alarms_never_repeat_and_stay_ascending_for_any_discharges(grams: list[int]) -> None:
    quota, notifier, _ = controller()
    quota.swipe(CARD, at=MARCH)
    for i, g in enumerate(grams):
        quota.observe(cod(MARCH + timedelta(minutes=i + 1), str(D(g).scaleb(-3))))
    thresholds = [a.threshold for a in notifier.alarms]
    assert thresholds == sorted(set(thresholds))
    used = D(sum(grams)).scaleb(-3)
    assert thresholds == [t for t in (D("0.80"), D("0.90"), D("1.00")) if used >= t * 100]


def test_valve_closes_at_full_quota_and_stays_closed(caplog: pytest.LogCaptureFixture) -> None:
    quota, _, valve = controller()
    quota.swipe(CARD, at=MARCH)
    quota.observe(cod(MARCH + timedelta(minutes=1), "99.999"))
    assert quota.valve_open and valve.commands == []
    with caplog.at_level(logging.WARNING):
        quota.observe(cod(MARCH + timedelta(minutes=2), "0.001"))
    assert not quota.valve_open and not valve.is_open
    assert [c for c, _ in valve.commands] == ["close"]
    assert "valve-close command issued" in caplog.text and "w01018" in valve.commands[0][1]
    quota.observe(cod(MARCH + timedelta(minutes=3), "5"))
    assert [c for c, _ in valve.commands] == ["close"]  # no second command


def test_valve_reopens_only_after_new_load() -> None:
    quota, _, valve = controller()
    quota.swipe(CARD, at=MARCH)
    quota.observe(cod(MARCH + timedelta(minutes=1), "100"))
    assert not quota.valve_open
    assert quota.swipe(CARD, at=MARCH + timedelta(hours=1)) is False  # no new load: stays shut
    quota.observe(cod(MARCH + timedelta(hours=2), "0"))
    assert not quota.valve_open
    quota.top_up("w01018", "10", at=MARCH + timedelta(hours=3), reference="TZ-1")
    assert quota.valve_open and valve.is_open
    assert [c for c, _ in valve.commands] == ["close", "open"]


def test_valve_stays_closed_when_top_up_does_not_cover_usage() -> None:
    quota, _, valve = controller()
    quota.swipe(CARD, at=MARCH)
    quota.observe(cod(MARCH + timedelta(minutes=1), "130"))
    quota.top_up("w01018", "10", at=MARCH + timedelta(minutes=2))  # 110 kg loaded, 130 used
    assert not quota.valve_open
    assert [c for c, _ in valve.commands] == ["close"]


def test_valve_not_closed_by_gas_pollutant_at_full_quota() -> None:
    quota, notifier, valve = controller(so2_kg="12")
    quota.swipe(CARD, at=MARCH)
    gas = frame(MARCH + timedelta(minutes=1), {"a21026": {"Cou": "2"}})
    quota.observe(gas)
    assert [a.pollutant for a in notifier.alarms] == ["a21026"] * 3
    assert quota.valve_open and valve.commands == []


def test_month_rollover_resets_balance_rearms_alarms_and_needs_new_swipe() -> None:
    quota, notifier, valve = controller()
    quota.swipe(CARD, at=MARCH)
    quota.observe(cod(MARCH + timedelta(days=10), "85"))  # 15 kg of March's quota unused
    april = datetime(2024, 4, 1, 0, 1)
    alarms = quota.observe(cod(april, "0.5"))  # April, nothing loaded yet: the valve shuts
    assert quota.month == (2024, 4) and not quota.swiped
    assert quota.balance("w01018").loaded_kg == 0 and quota.balance("w01018").used_kg == D("0.5")
    assert alarms == []  # no fraction of nothing: alarms wait for the load
    assert not quota.valve_open
    assert quota.swipe(CARD, at=april + timedelta(minutes=5)) is True
    assert quota.balance("w01018").loaded_kg == D("100.000")  # no carry-over of March's 15 kg
    assert quota.valve_open
    assert [c for c, _ in valve.commands] == ["close", "open"]
    quota.observe(cod(april + timedelta(minutes=6), "80"))  # 80.5 of 100 kg
    assert [(a.month, a.threshold) for a in notifier.alarms] == [(3, D("0.80")), (4, D("0.80"))]


def test_month_rollover_on_year_change_uses_new_years_quota() -> None:
    quotas = [AnnualQuota.even("w01018", 2024, "1200"), AnnualQuota.even("w01018", 2025, "600")]
    quota = QuotaController(
        ENTERPRISE, quotas, {CARD: ENTERPRISE}, notifier=ListNotifier(), valve=LoggingValve()
    )
    quota.swipe(CARD, at=datetime(2024, 12, 31, 23, 0))
    quota.swipe(CARD, at=datetime(2025, 1, 1, 0, 5))
    assert quota.month == (2025, 1)
    assert quota.balance("w01018").loaded_kg == D("50.000")


def test_observe_ignores_frame_from_closed_month() -> None:
    quota, _, _ = controller()
    quota.swipe(CARD, at=datetime(2024, 4, 1))
    assert quota.observe(cod(datetime(2024, 3, 31, 23, 59), "500")) == []
    assert quota.balance("w01018").used_kg == 0
    assert quota.snapshot().late_frames == 1


def test_observe_ignores_frames_of_other_command_codes() -> None:
    quota, _, _ = controller()
    quota.swipe(CARD, at=MARCH)
    hourly = frame(MARCH + timedelta(hours=1), {"w01018": {"Cou": "60"}}, cn="2061")
    assert quota.observe(hourly) == []
    assert quota.balance("w01018").used_kg == 0


def test_observe_raises_time_error_for_frame_without_datatime() -> None:
    quota, _, _ = controller()
    undated = parse(encode(st="32", cn="2051", pw="1", mn="TZ0001", values={"w01018": {"Cou": "1"}}))
    with pytest.raises(QuotaTimeError):
        quota.observe(undated)


def test_observe_integrates_rates_with_configured_interval() -> None:
    quota, _, _ = controller(interval=timedelta(minutes=1))
    quota.swipe(CARD, at=MARCH)
    quota.observe(frame(MARCH + timedelta(minutes=1), {"w01018": {"Avg": "50"}, "w00000": {"Avg": "2"}}))
    assert quota.balance("w01018").used_kg == D("0.006")


def test_notifier_failure_is_logged_and_does_not_stop_valve(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def notify(self, alarm: QuotaAlarm) -> None:
            raise ConnectionError("SMS gateway down")

    quota = QuotaController(
        ENTERPRISE, [AnnualQuota.even("w01018", 2024, "1200")], {CARD: ENTERPRISE}, notifier=Broken()
    )
    quota.swipe(CARD, at=MARCH)
    quota.observe(cod(MARCH + timedelta(minutes=1), "100"))
    assert not quota.valve_open
    assert "alarm notification failed" in caplog.text


def test_valve_failure_keeps_state_and_retries_next_frame() -> None:
    class Flaky(LoggingValve):
        fail = True

        def close(self, reason: str) -> None:
            if self.fail:
                raise TimeoutError("relay does not answer")
            super().close(reason)

    valve = Flaky()
    quota = QuotaController(
        ENTERPRISE, [AnnualQuota.even("w01018", 2024, "1200")], {CARD: ENTERPRISE}, valve=valve
    )
    quota.swipe(CARD, at=MARCH)
    quota.observe(cod(MARCH + timedelta(minutes=1), "100"))
    assert quota.valve_open  # the command failed: not recorded as closed
    valve.fail = False
    quota.observe(cod(MARCH + timedelta(minutes=2), "0.1"))
    assert not quota.valve_open and not valve.is_open


def test_logging_notifier_and_valve_satisfy_protocols(caplog: pytest.LogCaptureFixture) -> None:
    assert isinstance(LoggingNotifier(), Notifier) and isinstance(ListNotifier(), Notifier)
    assert isinstance(LoggingValve(), Valve)
    quota = QuotaController(ENTERPRISE, [AnnualQuota.even("w01018", 2024, "1200")], {CARD: ENTERPRISE})
    quota.swipe(CARD, at=MARCH)
    quota.observe(cod(MARCH + timedelta(minutes=1), "100"))
    assert "quota alarm: w01018 reached 100% of its 2024-03 quota" in caplog.text
    assert "valve closed" in caplog.text


@pytest.mark.parametrize(
    "thresholds",
    [[], ["0.9", "0.8"], ["0", "1"], ["0.8", "0.8"], [0.8]],
    ids=["empty", "descending", "zero", "repeated", "float"],
)
def test_controller_raises_config_error_for_bad_thresholds(thresholds: list[object]) -> None:
    with pytest.raises(QuotaConfigError):
        controller(thresholds=thresholds)


def test_controller_raises_config_error_for_duplicate_quota() -> None:
    quotas = [AnnualQuota.even("w01018", 2024, "1"), AnnualQuota.even("w01018", 2024, "2")]
    with pytest.raises(QuotaConfigError):
        QuotaController(ENTERPRISE, quotas, {})


def test_custom_thresholds_fire_in_order() -> None:
    quota, notifier, _ = controller(thresholds=["0.5", "1", "1.2"])
    quota.swipe(CARD, at=MARCH)
    quota.observe(cod(MARCH + timedelta(minutes=1), "119.999"))
    quota.observe(cod(MARCH + timedelta(minutes=2), "0.001"))
    assert [a.threshold for a in notifier.alarms] == [D("0.5"), D("1"), D("1.2")]


# --- state --------------------------------------------------------------------------------


def test_state_round_trips_through_json_and_resumes_without_repeating_alarms() -> None:
    quota, _, _ = controller()
    quota.swipe(CARD, at=MARCH)
    quota.observe(cod(MARCH + timedelta(minutes=1), "85.5"))
    saved = json.loads(json.dumps(quota.snapshot().to_dict()))
    assert saved["balances"]["w01018"] == {"loaded_kg": "100.000", "used_kg": "85.5", "alarms": ["0.80"]}

    state = QuotaState.from_dict(saved)
    assert state == quota.snapshot()
    resumed, notifier2, _ = controller(state=state)
    assert resumed.month == (2024, 3) and resumed.swiped
    assert resumed.swipe(CARD, at=MARCH + timedelta(days=1)) is False  # no double load
    resumed.observe(cod(MARCH + timedelta(minutes=2), "5"))
    assert [a.threshold for a in notifier2.alarms] == [D("0.90")]  # 0.80 was raised before


def test_state_resume_keeps_valve_closed_and_resync_resends_command() -> None:
    quota, _, _ = controller()
    quota.swipe(CARD, at=MARCH)
    quota.observe(cod(MARCH + timedelta(minutes=1), "100"))
    resumed, _, valve = controller(state=QuotaState.from_dict(quota.snapshot().to_dict()))
    assert not resumed.valve_open and valve.commands == []
    resumed.resync_valve()
    assert valve.commands == [("close", "resynchronised after restart")]


def test_snapshot_is_a_copy() -> None:
    quota, _, _ = controller()
    quota.swipe(CARD, at=MARCH)
    snap = quota.snapshot()
    snap.balances["w01018"].used_kg = D(999)
    assert quota.balance("w01018").used_kg == 0


@pytest.mark.parametrize(
    "change",
    [
        {"version": 2},
        {"month": 13},
        {"month": None},
        {"swiped": "yes"},
        {"balances": {"w01018": {"loaded_kg": 1.5, "used_kg": "0", "alarms": []}}},
        {"balances": {"w01018": {"loaded_kg": "NaN", "used_kg": "0", "alarms": []}}},
        {"last_time": "yesterday"},
        {"enterprise": ""},
    ],
    ids=["version", "month", "half-month", "bool", "float-amount", "nan", "time", "enterprise"],
)
def test_state_from_dict_raises_state_error_for_malformed_data(change: dict[str, object]) -> None:
    quota, _, _ = controller()
    quota.swipe(CARD, at=MARCH)
    data = quota.snapshot().to_dict() | change
    with pytest.raises(QuotaStateError):
        QuotaState.from_dict(data)


def test_state_from_dict_raises_state_error_for_missing_key() -> None:
    data = QuotaState(ENTERPRISE).to_dict()
    del data["balances"]
    with pytest.raises(QuotaStateError):
        QuotaState.from_dict(data)


def test_controller_refuses_state_of_other_enterprise() -> None:
    with pytest.raises(QuotaConfigError):
        controller(state=QuotaState("E-OTHER"))
