"""``ets allocate`` for pollutants other than CO2 on the session chain (plans and permits wired, the
2027 annual plan adopted): plan SO2 from the permits under the annual plan, execute its cap, execute
the plan (a re-run mints nothing); NOx from a metered-emissions CSV; refusals printed by name."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chain.deploy import ContractRecord
from domain.tokens import Kind, encode_id
from ets.cli import main as cli
from tests.conftest import Consortium
from tests.utils.plan_allocation import ENTERPRISES, PlannedConsortium, set_up

Run = Callable[..., tuple[int, str]]
(E0, _, _, _), (E1, _, _, _), (E2, _, _, _) = ENTERPRISES


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def planned(fresh: Consortium) -> PlannedConsortium:
    return set_up(fresh)


@pytest.fixture
def ets(planned: PlannedConsortium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    c = planned.c
    records = {
        "TotalControlPlans": ContractRecord(planned.plans.address, planned.plans.from_block, "0x", "", []),
        "DischargePermits": ContractRecord(planned.permits.address, planned.permits.from_block, "0x", "", []),
    }
    manifest = replace(c.manifest, contracts={**c.manifest.contracts, **records})
    manifest.save(tmp_path / "deployment.json")
    monkeypatch.setenv("ETS_RPC_URL", c.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    monkeypatch.setenv("ETS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("ETS_DEMO", "1")
    monkeypatch.setenv("ETS_MANIFEST", str(tmp_path / "deployment.json"))

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli.app, list(args))
        return result.exit_code, result.output

    yield run


def test_allocate_plans_so2_from_permits_under_the_annual_plan_and_executes_it(
    ets: Run, planned: PlannedConsortium, tmp_path: Path
) -> None:
    c, annual = planned.c, str(planned.annual_id)
    out_csv = str(tmp_path / "so2.csv")
    code, out = ets("allocate", "plan", "--pollutant", "SO2", "--basis", "permits", "--annual-plan", annual,
                    "--out", out_csv)  # fmt: skip
    assert code == 0, out
    text = flat(out)
    assert "3 enterprises, SO2 2027 from permits under annual plan" in text and ": 5,500 t" in text
    assert "region 331000: cap 5,000 t, reserve 500 t, already 0 t, budget 4,500 t, allocated 4,500 t" in text
    assert (
        "region 330100: cap 4,000 t, reserve 400 t, already 0 t, budget 3,600 t, allocated 1,000 t, "
        "unallocated 2,600 t" in text
    )
    code, out = ets("allocate", "execute", out_csv, "--as", "regulator")
    assert code == 1 and "execute the annual plan" in flat(out), out
    assert ets("plans", "execute-cap", annual, "--pollutant", "SO2", "--as", "regulator")[0] == 0
    code, out = ets("allocate", "execute", out_csv, "--as", "regulator")
    assert code == 0 and "5,500 allowances minted" in flat(out), out
    so2 = encode_id(Kind.ALLOWANCE, "SO2", 2027)
    assert [c.allowance.balance(e.address, so2) for e in (E0, E1, E2)] == [2_397, 2_103, 1_000]
    code, out = ets("allocate", "execute", out_csv, "--as", "regulator")
    assert code == 0 and "1 already on-chain; 0 allowances minted" in flat(out), out


def test_allocate_plans_nox_from_metered_history_and_refuses_bad_input(
    ets: Run, planned: PlannedConsortium, tmp_path: Path
) -> None:
    metered = tmp_path / "metered.csv"
    metered.write_text(
        f"enterprise,pollutant,year,emissions_t\n{E0.address},NOx,2026,700\n{E2.address},NOx,2025,900\n"
    )
    annual = str(planned.annual_id)
    code, out = ets("allocate", "plan", str(metered), "--pollutant", "NOx", "--basis", "history",
                    "--annual-plan", annual, "--out", str(tmp_path / "nox.csv"))  # fmt: skip
    assert code == 0 and "2 enterprises, NOx 2027 from history" in flat(out) and ": 1,100 t" in flat(out), out
    code, out = ets("allocate", "plan", "--pollutant", "SO2")
    assert code == 1 and "needs --annual-plan" in flat(out), out
    code, out = ets("allocate", "plan", "--pollutant", "SO2", "--annual-plan", "1")
    assert code == 1 and "plan 1 is a five-year plan" in flat(out), out
    code, out = ets("allocate", "plan", "--pollutant", "SO2", "--annual-plan", annual, "--basis", "energy")
    assert code == 1 and "unknown basis 'energy'" in flat(out), out
    code, out = ets("allocate", "plan", "--pollutant", "SO2", "--annual-plan", annual, "--year", "2028")
    assert code == 1 and "differs from annual plan" in flat(out), out
    code, out = ets("allocate", "plan", "--pollutant", "SO2", "--annual-plan", annual, "--basis", "history")
    assert code == 1 and "has no schema" in flat(out), out
