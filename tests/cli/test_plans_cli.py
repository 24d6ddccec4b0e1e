"""``ets plans`` end to end on the session chain (TotalControlPlans deployed and wired): draft a
five-year plan 2026–2030 and its 2027 annual plan from JSON, adopt both through governance,
execute the SO2 cap, show, list, progress (and, from the read model, emissions against the plans per
pollutant, region and year); refusals printed by name."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chain.deploy import ContractRecord, Manifest
from domain.tokens import Kind, encode_id
from ets.cli import main as cli
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from tests.conftest import Consortium
from tests.utils.plans import deploy_plans

Run = Callable[..., tuple[int, str]]

FIVE_YEAR = {
    "kind": "five_year",
    "start_year": 2026,
    "base_year": 2025,
    "uri": "https://example.gov/plan-2026-2030.pdf",
    "document_hash": "0x" + "11" * 32,
    "pollutants": [
        {
            "pollutant": "SO2",
            "base_emissions": 10_000,
            "target_bps": 1_600,
            "path": [10_000, 9_600, 9_200, 8_800, 8_400],
        },
        {
            "pollutant": "NOx",
            "base_emissions": 20_000,
            "target_bps": 1_000,
            "path": [20_000, 19_500, 19_000, 18_500, 18_000],
        },
    ],
    "regions": [{"region": 331000, "share_bps": 6_000}, {"region": 330100, "share_bps": 4_000}],
}


def annual(so2_taizhou: int) -> dict[str, object]:
    return {
        "kind": "annual",
        "five_year_plan_id": 1,
        "year": 2027,
        "uri": "https://example.gov/plan-2027.pdf",
        "caps": [
            {
                "pollutant": "SO2",
                "region": 331000,
                "cap": so2_taizhou,
                "reserve_share_bps": 1_000,
                "guide_price": 2_500,
            },
            {
                "pollutant": "SO2",
                "region": 330100,
                "cap": 4_000,
                "reserve_share_bps": 1_000,
                "guide_price": 2_500,
            },
        ],
        "targets": [{"enterprise": "0x" + "ab" * 20, "pollutant": "SO2", "target_bps": 500}],
    }


@pytest.fixture
def ets(fresh: Consortium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    plans = deploy_plans(fresh)
    record = ContractRecord(plans.address, plans.from_block, "0x", "", [])
    manifest = replace(fresh.manifest, contracts={**fresh.manifest.contracts, "TotalControlPlans": record})
    manifest.save(tmp_path / "deployment.json")
    monkeypatch.setenv("ETS_RPC_URL", fresh.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    monkeypatch.setenv("ETS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("ETS_DEMO", "1")
    monkeypatch.setenv("ETS_MANIFEST", str(tmp_path / "deployment.json"))

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli.app, list(args))
        return result.exit_code, result.output

    yield run


def _file(tmp_path: Path, name: str, data: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def _adopt(ets: Run, plan_id: int) -> None:
    code, out = ets("plans", "adopt", str(plan_id), "--as", "regulator")
    assert code == 0, out
    proposal = out.split()[1].rstrip(":")
    assert ets("governance", "approve", proposal, "--as", "exchange")[0] == 0
    assert ets("governance", "execute", proposal, "--as", "regulator")[0] == 0


def test_plans_cli_drafts_adopts_and_executes(ets: Run, fresh: Consortium, tmp_path: Path) -> None:
    code, out = ets("plans", "draft", _file(tmp_path, "five.json", FIVE_YEAR), "--as", "regulator")
    assert code == 0 and "plan 1 drafted" in out, out
    _adopt(ets, 1)
    code, out = ets("plans", "draft", _file(tmp_path, "above.json", annual(5_601)), "--as", "regulator")
    assert code == 1 and "PlanAboveFiveYearPath" in " ".join(out.split()), out
    code, out = ets("plans", "draft", _file(tmp_path, "annual.json", annual(5_600)), "--as", "regulator")
    assert code == 0 and "plan 2 drafted" in out, out
    _adopt(ets, 2)
    code, out = ets("plans", "execute-cap", "2", "--pollutant", "SO2", "--as", "regulator")
    assert code == 0 and "9,600" in out, out
    assert fresh.allowance.cap(encode_id(Kind.ALLOWANCE, "SO2", 2027)) == 9_600
    code, out = ets("plans", "show", "1")
    shown = json.loads(out)
    assert (shown["kind"], shown["status"], shown["end_year"]) == ("five_year", "adopted", 2030)
    assert shown["content"]["regions"][0] == {"region": 331000, "share_bps": 6000}
    listed = json.loads(ets("plans", "list")[1])
    assert [(p["id"], p["kind"], p["status"]) for p in listed] == [
        (1, "five_year", "adopted"),
        (2, "annual", "adopted"),
    ]
    progress = json.loads(ets("plans", "progress", "2")[1])
    assert progress == [
        {"pollutant": "SO2", "year": 2027, "planned": 9_600, "cap": 9_600, "cap_plan": 2, "issued": 0}
    ]
    five = json.loads(ets("plans", "progress", "1")[1])
    assert {"pollutant": "SO2", "year": 2027, "path": 9_600, "annual_plan": 2, "annual_total": 9_600} in five
    code, out = ets("plans", "adopt", "2", "--as", "regulator")
    assert code == 1 and "PlanAlreadyAdopted" in " ".join(out.split()), out


def test_plans_cli_refuses_bad_input_by_name(ets: Run, tmp_path: Path) -> None:
    code, out = ets("plans", "draft", _file(tmp_path, "bad.json", {"kind": "decade"}), "--as", "regulator")
    assert code == 1 and "five_year" in out
    bad_shares = {**FIVE_YEAR, "regions": [{"region": 331000, "share_bps": 6_000}]}
    code, out = ets("plans", "draft", _file(tmp_path, "shares.json", bad_shares), "--as", "regulator")
    assert code == 1 and "PlanRegionSharesInvalid" in " ".join(out.split()), out
    code, out = ets("plans", "draft", _file(tmp_path, "five.json", FIVE_YEAR), "--as", "exchange")
    assert code == 1 and "UnauthorizedRole" in " ".join(out.split()), out
    code, out = ets("plans", "show", "9")
    assert code == 1 and "no plan 9" in out


def test_plans_progress_emissions_from_the_read_model(ets: Run, fresh: Consortium, tmp_path: Path) -> None:
    code, out = ets("plans", "progress", "1", "--emissions")
    assert code == 1 and "has no schema" in " ".join(out.split()), out
    assert ets("plans", "draft", _file(tmp_path, "five.json", FIVE_YEAR), "--as", "regulator")[0] == 0
    _adopt(ets, 1)
    assert ets("plans", "draft", _file(tmp_path, "annual.json", annual(5_600)), "--as", "regulator")[0] == 0
    _adopt(ets, 2)
    assert ets("plans", "execute-cap", "2", "--pollutant", "SO2", "--as", "regulator")[0] == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'readmodel.db'}")
    upgrade(engine)
    Indexer(fresh.chain, Manifest.load(tmp_path / "deployment.json"), engine).catch_up()
    engine.dispose()
    code, out = ets("plans", "progress", "2", "--emissions")
    assert code == 0, out
    taizhou = next(r for r in json.loads(out) if r["region"] == 331000)
    assert taizhou == {
        "pollutant": "SO2", "region": 331000, "year": 2027, "planned_t": 5_600, "path_t": 5_760,
        "annual_cap_t": 5_600, "reserve_t": 560, "metered_t": 0.0, "verified_t": 0, "executed_cap": 9_600,
    }  # fmt: skip
    five = json.loads(ets("plans", "progress", "1", "--emissions")[1])
    assert len(five) == 2 * 2 * 5 and sum(r["annual_cap_t"] is not None for r in five) == 2
    code, out = ets("plans", "progress", "99", "--emissions")
    assert code == 1 and "plan 99 is not in the read model" in " ".join(out.split()), out
