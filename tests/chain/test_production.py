"""Tests of the enterprise production report: bucketing, units, energy → CO2, monthly energy files,
bad input, a report gathered from a real ledger and the ``ets report production`` command."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from eth_utils import to_checksum_address
from typer.testing import CliRunner

from chain.accounts import dev_account
from chain.allocation import EmissionFactors, EnterpriseHistory, YearRecord, energy_co2
from chain.production import (
    MONTHLY_ENERGY_COLUMNS,
    ROW_COLUMNS,
    MonthlyEnergy,
    Verified,
    build_report,
    energy_use,
    enterprise_id_of,
    gather_production,
    load_monthly_energy,
    write_monthly_energy,
)
from domain.errors import InvalidInputError
from domain.production import COAL_EQUIVALENT, HJ212_ALLOWANCE, local_month, to_cubic_metres, to_tonnes
from ets.cli import main as cli
from sim.sample import (
    generate_enterprises,
    monthly_energy,
    sample_profile,
    write_monthly_sample,
    write_sample,
)
from tests.conftest import Consortium
from tests.utils.attestations import attestation
from tests.utils.chain import register
from tests.utils.production import ENTERPRISE, OTHER, READINGS_PER_MINUTE, event, plant, total, wastewater

#: 2027-06-01 00:00 in Shanghai (UTC+8) is 2027-05-31 16:00 UTC.
JUNE_1 = int(datetime(2027, 5, 31, 16, 0, tzinfo=UTC).timestamp())
MAY_15 = int(datetime(2027, 5, 15, 4, 0, tzinfo=UTC).timestamp())
#: Hand-computed example: quantities, their tce and tCO2 with the shipped factors.
QUANTITIES = {"coal": 100.0, "natural_gas": 10.0, "oil": 2.0, "electricity": 50.0, "heat": 30.0}
# 100 x 0.7143 + 10 x 1.33 + 2 x 1.4286 + 50 x 0.1229 + 30 x 0.03412
TCE = 71.43 + 13.3 + 2.8572 + 6.145 + 1.0236
# 100 x 1.9779 + 10 x 2.1840 + 2 x 3.2366 + 50 x 0.5703 + 30 x 0.11
CO2 = 197.79 + 21.84 + 6.4732 + 28.515 + 3.3


def _record(year: int = 2027, **overrides: float) -> YearRecord:
    q = QUANTITIES | overrides
    return YearRecord("E0001", year, q["coal"], q["natural_gas"], q["oil"], q["electricity"], q["heat"],
                      1000.0, "MWh", 250.0)  # fmt: skip


def _history(years: tuple[int, ...] = (2025, 2026, 2027)) -> EnterpriseHistory:
    return EnterpriseHistory("E0001", tuple(_record(y) for y in years))


def _write(tmp_path: Path, text: str, name: str = "monthly.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- pure functions


def test_local_month_uses_shanghai_time_at_month_and_year_boundaries() -> None:
    assert local_month(JUNE_1 - 1) == (2027, 5)
    assert local_month(JUNE_1) == (2027, 6)
    new_year = int(datetime(2026, 12, 31, 16, 0, tzinfo=UTC).timestamp())
    assert (local_month(new_year - 1), local_month(new_year)) == ((2026, 12), (2027, 1))


def test_unit_conversion_gives_exact_tonnes_and_cubic_metres_and_none_for_concentrations() -> None:
    assert to_tonnes(total("w01018", "26.400", "kg")) == Decimal("0.0264")
    assert to_tonnes(total("a21026", "1500", "g")) == Decimal("0.0015")
    assert to_tonnes(total("a05001", "2.5", "t")) == Decimal("2.5")
    assert to_tonnes(total("w01018", "35.2", "mg/L")) is None
    assert to_tonnes(total("w00000", "750.0", "m3")) is None
    assert to_cubic_metres(total("w00000", "750.0", "m3")) == Decimal("750.0")
    assert to_cubic_metres(total("w00000", "12.5", "L")) == Decimal("0.0125")
    assert to_cubic_metres(total("w00000", "12.50", "L/s")) is None


def test_energy_use_matches_hand_computed_tce_and_co2_and_the_planners_formula() -> None:
    energy = energy_use(QUANTITIES, source="annual")
    assert energy.total_tce == pytest.approx(TCE, rel=1e-12)
    assert energy.co2_t == pytest.approx(CO2, rel=1e-12)
    assert energy.co2_t == energy_co2(_record())
    assert energy.tce["coal"] == pytest.approx(100 * COAL_EQUIVALENT["coal"])
    assert energy.co2_by_carrier["electricity"] == pytest.approx(50 * 0.5703)


def test_energy_use_refuses_unknown_carrier_and_negative_quantity() -> None:
    with pytest.raises(InvalidInputError, match="unknown energy carrier"):
        energy_use({"peat": 1.0}, source="annual")
    with pytest.raises(InvalidInputError, match="coal must be >= 0"):
        energy_use({"coal": -1.0}, source="annual")


def test_hj212_allowance_map_names_only_allowance_pollutants() -> None:
    from domain.tokens import POLLUTANTS

    assert set(HJ212_ALLOWANCE.values()) <= set(POLLUTANTS)
    from oracle.hj212 import POLLUTANTS as HJ212  # the test may look: chain itself never imports oracle

    assert all(HJ212[code].total_unit == "kg" for code in HJ212_ALLOWANCE)


# --------------------------------------------------------------------------- bucketing


def test_build_report_buckets_batches_by_period_start_in_shanghai_months() -> None:
    events = [
        event(MAY_15, [total("w01018", "10.000"), total("w01018", "35.2", "mg/L")], count=3),
        # starts on 31 May 23:59 Shanghai, ends in June: counted in May
        event(
            JUNE_1 - 60, [total("w01018", "1.500"), total("w00000", "750.0", "m3")], period_end=JUNE_1 + 60
        ),
        event(JUNE_1, [total("w01018", "2.250"), total("a21026", "500", "g")], count=5),
        event(JUNE_1, [total("w01018", "99")], enterprise=OTHER),  # another enterprise
        event(JUNE_1 - 86400 * 400, [total("w01018", "99")]),  # another year
    ]
    report = build_report(ENTERPRISE, 2027, by="month", events=events)
    assert [p.label for p in report.periods] == [f"2027-{m:02d}" for m in range(1, 13)] + ["2027"]
    may, june, year = report.period(2027, 5), report.period(2027, 6), report.period(2027)
    cod = may.pollutant("COD")
    assert cod is not None and (cod.metered_t, cod.batches, cod.hj212_code) == (
        Decimal("0.0115"),
        2,
        "w01018",
    )
    assert (may.batches, may.readings) == (2, 7)
    flow = may.flow("w00000")
    assert flow is not None and flow.volume_m3 == Decimal("750.0")
    assert may.pollutant("w00000") is None  # flows are not pollutant rows
    assert [p.pollutant for p in june.pollutants] == ["SO2", "COD"]
    so2 = june.pollutant("SO2")
    assert so2 is not None and so2.metered_t == Decimal("0.0005")
    year_cod = year.pollutant("COD")
    assert year_cod is not None and (year_cod.metered_t, year_cod.batches) == (Decimal("0.01375"), 3)
    assert (year.batches, year.readings) == (3, 12)
    assert report.period(2027, 1).pollutants == ()


def test_build_report_shows_annual_energy_only_on_year_rows_without_monthly_data() -> None:
    report = build_report(ENTERPRISE, 2026, to_year=2027, by="month", history=_history())
    months = [p for p in report.periods if p.month is not None]
    assert len(months) == 24 and all(p.energy is None for p in months)
    year = report.period(2027)
    assert year.energy is not None and year.energy.source == "annual"
    co2 = year.pollutant("CO2")
    assert co2 is not None
    assert co2.computed_t == pytest.approx(CO2)
    assert (co2.reported_t, co2.metered_t) == (250.0, None)
    rows = report.to_rows()
    assert {r["energy_source"] for r in rows if r["month"] is not None} == {"not available"}
    assert report.enterprise_id == "E0001"


def test_build_report_uses_monthly_rows_and_sums_twelve_months_without_history() -> None:
    monthly = [MonthlyEnergy("E0001", None, 2027, m, {"coal": 10.0 * m}) for m in range(1, 13)]
    monthly.append(MonthlyEnergy(None, ENTERPRISE, 2026, 3, {"coal": 5.0}))  # matched by address
    monthly.append(MonthlyEnergy("E0002", None, 2027, 3, {"coal": 7.0}))  # someone else's
    report = build_report(ENTERPRISE, 2026, to_year=2027, by="month", monthly=monthly, enterprise_id="E0001")
    march = report.period(2027, 3).energy
    assert march is not None and (march.source, march.quantities["coal"]) == ("monthly", 30.0)
    year = report.period(2027).energy
    assert year is not None and (year.source, year.quantities["coal"]) == ("monthly sum", 780.0)
    assert report.period(2026, 3).energy is not None
    assert report.period(2026).energy is None  # eleven months missing: no invented year


def test_build_report_compares_metered_computed_and_verified_in_percent_on_year_rows() -> None:
    events = [event(MAY_15, [total("a05001", "300000", "kg"), total("w01018", "40", "kg")])]
    verified = [
        Verified("CO2", 2027, 250, "0x" + "ab" * 32, "0x" + "aa" * 20),
        Verified("COD", 2027, 0, "0x" + "cd" * 32, "0x" + "aa" * 20),
        Verified("SO2", 2027, 12, "0x" + "ef" * 32, "0x" + "aa" * 20),
    ]
    report = build_report(
        ENTERPRISE,
        2027,
        by="month",
        events=events,
        history=_history(),
        verified=verified,
    )
    co2 = report.period(2027).pollutant("CO2")
    assert co2 is not None and co2.metered_t == Decimal(300) and co2.verified_t == 250
    assert co2.metered_vs_verified_pct == pytest.approx(20.0)
    assert co2.computed_vs_verified_pct == pytest.approx((CO2 - 250) / 250 * 100)
    assert co2.metered_vs_computed_pct == pytest.approx((300 - CO2) / CO2 * 100)
    cod = report.period(2027).pollutant("COD")
    assert cod is not None and cod.verified_t == 0 and cod.metered_vs_verified_pct is None
    so2 = report.period(2027).pollutant("SO2")
    assert so2 is not None and (so2.metered_t, so2.verified_t, so2.batches) == (None, 12, 0)
    may_co2 = report.period(2027, 5).pollutant("CO2")
    assert may_co2 is not None and may_co2.verified is None and may_co2.computed_t is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"enterprise": "0x1234"}, "enterprise '0x1234' is not an address"),
        ({"enterprise": "0x" + "00" * 20}, "enterprise is the zero address"),
        ({"year": 1999}, "year 1999 is out of range 2000-2200"),
        ({"to_year": 2201}, "to_year 2201 is out of range"),
        ({"to_year": 2026}, "to_year 2026 is before year 2027"),
        ({"to_year": 2060}, "at most 20"),
        ({"by": "week"}, "by must be 'year' or 'month', got 'week'"),
    ],
)
def test_build_report_refuses_bad_input_naming_the_problem(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"enterprise": ENTERPRISE, "year": 2027} | kwargs
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(")):
        build_report(**args)  # type: ignore[arg-type]


def test_build_report_refuses_two_monthly_rows_for_one_month() -> None:
    monthly = [
        MonthlyEnergy("E0001", None, 2027, 3, {"coal": 1.0}, line=2),
        MonthlyEnergy(None, ENTERPRISE, 2027, 3, {"coal": 2.0}, line=9),
    ]
    with pytest.raises(
        InvalidInputError, match=r"two monthly energy rows for 2027-03 of E0001 \(lines 2 and 9\)"
    ):
        build_report(ENTERPRISE, 2027, by="month", monthly=monthly, enterprise_id="E0001")


def test_report_exports_rows_json_and_csv_with_the_same_figures(tmp_path: Path) -> None:
    events = [event(MAY_15, [total("w01018", "26.400"), total("w00000", "750.0", "m3")])]
    report = build_report(ENTERPRISE, 2027, by="year", events=events, history=_history())
    rows = report.to_rows()
    assert [(r["kind"], r["pollutant"]) for r in rows] == [
        ("emission", "CO2"),
        ("emission", "COD"),
        ("flow", "w00000"),
    ]
    assert rows[1]["metered"] == pytest.approx(0.0264) and rows[2]["unit"] == "m3"
    data = json.loads(json.dumps(report.to_json()))
    [period] = data["periods"]
    assert period["energy"]["total_tce"] == pytest.approx(TCE)
    assert period["flows"] == [{"hj212_code": "w00000", "volume_m3": 750.0, "batches": 1}]
    path = report.write_csv(tmp_path / "out" / "report.csv")
    with path.open(newline="") as fh:
        read = list(csv.DictReader(fh))
    assert tuple(read[0]) == ROW_COLUMNS
    assert [r["pollutant"] for r in read] == ["CO2", "COD", "w00000"]
    assert float(read[0]["computed_t"]) == pytest.approx(CO2) and read[0]["metered"] == ""


def test_enterprise_id_of_maps_credit_code_through_enterprises_file_or_keeps_it() -> None:
    assert enterprise_id_of("91330000ABC", {"E0001": "X", "E0002": "91330000ABC"}) == "E0002"
    assert enterprise_id_of("91330000ABC", {}) == "91330000ABC"


# --------------------------------------------------------------------------- monthly energy files


def test_load_monthly_energy_reads_back_what_write_monthly_energy_wrote(tmp_path: Path) -> None:
    rows = [
        MonthlyEnergy("E0001", None, 2027, 1, dict(QUANTITIES)),
        MonthlyEnergy(None, "0x" + "ab" * 20, 2027, 2, {**QUANTITIES, "coal": 0.1 + 0.2}),
    ]
    path = write_monthly_energy(rows, tmp_path / "monthly.csv")
    back = load_monthly_energy(path)
    assert [(r.enterprise_id, r.address, r.year, r.month, dict(r.quantities)) for r in back] == [
        ("E0001", None, 2027, 1, QUANTITIES),
        (None, to_checksum_address("0x" + "ab" * 20), 2027, 2, {**QUANTITIES, "coal": 0.1 + 0.2}),
    ]
    assert [r.line for r in back] == [2, 3]


def test_load_monthly_energy_lists_every_bad_row_with_its_line_number(tmp_path: Path) -> None:
    header = ",".join(MONTHLY_ENERGY_COLUMNS) + ",address"
    path = _write(
        tmp_path,
        "\n".join(
            [
                "# monthly energy",
                header,
                "E0001,2027,1,1,2,3,4,5,",
                "E0001,2027,13,1,2,3,4,5,",
                "E0001,2027,2,-1,2,3,4,5,",
                ",2027,3,1,2,3,4,5,0x12",
                "E0001,2027,1,1,2,3,4,5,",
                "E0001,twenty,4,1,x,3,4,5,",
                "E0001,2027,5,1,2,3",
                ",2027,6,1,2,3,4,5,",
                "E0001,1850,7,1,2,3,,5,",
            ]
        ),
    )
    with pytest.raises(InvalidInputError) as info:
        load_monthly_energy(path)
    message = str(info.value)
    for expected in [
        "monthly.csv line 4: month 13 is out of range 1-12",
        "monthly.csv line 5: coal_t '-1' is negative",
        "monthly.csv line 6: address '0x12' is not an enterprise address",
        "monthly.csv line 7: duplicate month 2027-01 of E0001 (first at line 3)",
        "monthly.csv line 8: year 'twenty' is not an integer",
        "monthly.csv line 8: natural_gas_km3 'x' is not a number",
        "monthly.csv line 9: expected 9 fields, got 6",
        "monthly.csv line 10: enterprise_id and address are both empty",
        "monthly.csv line 11: year 1850 is out of range 1900-2200",
        "monthly.csv line 11: electricity_mwh is empty",
    ]:
        assert expected in message
    assert "(10 problems)" in message


def test_load_monthly_energy_refuses_missing_columns_and_missing_identifier(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"line 1: missing column\(s\) heat_gj"):
        load_monthly_energy(
            _write(tmp_path, "enterprise_id,year,month,coal_t,natural_gas_km3,oil_t,electricity_mwh\n")
        )
    no_id = "year,month,coal_t,natural_gas_km3,oil_t,electricity_mwh,heat_gj\n2027,1,1,2,3,4,5\n"
    with pytest.raises(InvalidInputError, match="needs an enterprise_id or an address column"):
        load_monthly_energy(_write(tmp_path, no_id))
    with pytest.raises(InvalidInputError, match="cannot read"):
        load_monthly_energy(tmp_path / "absent.csv")


def test_sample_monthly_energy_adds_up_to_the_annual_history_with_winter_heating_in_the_north() -> None:
    consortium = generate_enterprises(40, years=3, seed=5, last_year=2027)
    rows = monthly_energy(consortium)
    assert len(rows) == 40 * 3 * 12 and monthly_energy(consortium) == rows
    by_year: dict[tuple[str, int], list[MonthlyEnergy]] = {}
    for row in rows:
        by_year.setdefault((row.enterprise_id or "", row.year), []).append(row)
    for history in consortium.histories:
        for record in history.records:
            months = by_year[history.enterprise_id, record.year]
            assert [m.month for m in months] == list(range(1, 13))
            for carrier in QUANTITIES:
                summed = math.fsum(m.quantities[carrier] for m in months)
                assert summed == pytest.approx(record.quantity(carrier), rel=1e-9, abs=1e-3)
                assert all(m.quantities[carrier] >= 0 for m in months)
    heated = [
        (e, h) for e, h in zip(consortium.enterprises, consortium.histories, strict=True)
        if e.latitude >= 33 and h.latest.heat_gj > 0
    ]  # fmt: skip
    assert heated
    for e, h in heated:
        months = by_year[e.enterprise_id, h.latest.year]
        assert months[0].quantities["heat"] > 1.5 * months[6].quantities["heat"]


# --------------------------------------------------------------------------- on a real chain

COMPANY = dev_account(31)
LOCAL_MAY = [  # Shanghai DataTimes and COD totals (kg)
    (datetime(2027, 5, 31, 23, 57), "26.400"),
    (datetime(2027, 5, 31, 23, 58), "27.125"),
    (datetime(2027, 5, 31, 23, 59), "25.010"),
]
LOCAL_JUNE = [(datetime(2027, 6, 1, 0, 0), "30.000"), (datetime(2027, 6, 1, 0, 1), "28.500")]


def _cod(minutes: list[tuple[datetime, str]]) -> Decimal:
    return sum((Decimal(kg) for _, kg in minutes), Decimal(0)) / 1000


def test_gather_production_sums_anchored_cou_per_shanghai_month_and_compares_attestation(
    fresh: Consortium,
) -> None:
    c = fresh
    register(c.registry, c.members, COMPANY.address, 931)
    with plant(c, COMPANY.address) as site:
        site.feed([(when, wastewater(kg)) for when, kg in LOCAL_MAY])
        assert site.anchor().anchored == 1
        site.feed([(when, wastewater(kg, nh3_kg="2.000")) for when, kg in LOCAL_JUNE])
        assert site.anchor().anchored == 1
    c.registry.assign_auditor(c.regulator, c.auditor.address, COMPANY.address)  # may attest once assigned
    verified = attestation(c.auditor.address, COMPANY.address, nonce=c.ledger.nonce(c.auditor.address),
                           pollutant=4, year=2027, verified_emissions=1)  # fmt: skip
    attested = c.ledger.attest(c.auditor, verified)
    ledger_block = c.manifest.contracts["EmissionsLedger"].block

    report = gather_production(c.ledger, COMPANY.address.lower(), 2027, by="month", from_block=ledger_block)

    may, june, year = report.period(2027, 5), report.period(2027, 6), report.period(2027)
    may_cod, june_cod, year_cod = may.pollutant("COD"), june.pollutant("COD"), year.pollutant("COD")
    assert may_cod is not None and june_cod is not None and year_cod is not None
    assert may_cod.metered_t == _cod(LOCAL_MAY) == Decimal("0.078535")
    assert june_cod.metered_t == _cod(LOCAL_JUNE) == Decimal("0.0585")
    assert year_cod.metered_t == _cod(LOCAL_MAY + LOCAL_JUNE)
    nh3 = june.pollutant("NH3-N")
    assert nh3 is not None and nh3.metered_t == Decimal("0.004")
    assert (may.batches, may.readings) == (1, 3 * READINGS_PER_MINUTE)
    assert (june.batches, june.readings) == (1, 2 * READINGS_PER_MINUTE)
    flow = year.flow("w00000")
    assert flow is not None and flow.volume_m3 == Decimal(750 * 5)
    assert year_cod.verified is not None and year_cod.verified.attestation_id == "0x" + attested.id.hex()
    assert year_cod.metered_vs_verified_pct == pytest.approx((float(_cod(LOCAL_MAY + LOCAL_JUNE)) - 1) * 100)
    assert may_cod.verified is None
    assert all(not p.pollutants for p in report.periods if p.month not in (5, 6, None))
    assert gather_production(c.ledger, OTHER, 2027).period(2027).batches == 0


# --------------------------------------------------------------------------- CLI

Run = Callable[..., tuple[int, str]]


@pytest.fixture
def ets(fresh: Consortium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    monkeypatch.setenv("ETS_RPC_URL", fresh.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    monkeypatch.setenv("ETS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("ETS_DEMO", "1")
    monkeypatch.setenv("ETS_MANIFEST", str(fresh.manifest_path))
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli.app, list(args))
        return result.exit_code, result.output

    yield run


def test_cli_report_production_prints_json_table_and_csv_for_a_sample_enterprise(
    ets: Run, fresh: Consortium, tmp_path: Path
) -> None:
    consortium = generate_enterprises(2, years=3, seed=11, last_year=2027)
    _, history_csv = write_sample(consortium, tmp_path)
    monthly_csv = write_monthly_sample(consortium, tmp_path)
    sample = consortium.enterprises[1]
    account = dev_account(32).address
    fresh.registry.govern(
        fresh.members, fresh.registry.encode_register_enterprise(account, sample_profile(sample)), "register"
    )
    base = ["report", "production", account, "--year", "2027", "--history", str(history_csv)]

    code, out = ets(*base, "--by", "month", "--monthly-energy", str(monthly_csv), "--json",
                    "--csv", str(tmp_path / "report.csv"))  # fmt: skip
    assert code == 0, out
    data = json.loads(out)
    assert (data["enterprise"], data["enterprise_id"], data["by"]) == (account, sample.enterprise_id, "month")
    record = consortium.histories[1].latest
    year = data["periods"][-1]
    assert (year["period"], year["energy"]["source"]) == ("2027", "annual")
    assert year["energy"]["co2_t"] == pytest.approx(energy_co2(record, EmissionFactors.default()))
    assert data["periods"][0]["energy"]["source"] == "monthly"
    assert (tmp_path / "report.csv").read_text().splitlines()[0] == ",".join(ROW_COLUMNS)

    code, out = ets(*base)
    assert code == 0, out
    assert "energy use of" in out and "not available" not in out and "CO2" in out

    code, out = ets("report", "production", account, "--year", "2027", "--by", "week")
    assert code == 1 and "InvalidInputError" in out and "'week'" in out
