"""Registering a sample consortium and allocating a plan on-chain: exact, resumable, all-or-nothing checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from chain.allocation import AllocationPlan, load_history, plan
from chain.onboarding import execute_plan, register_enterprises
from domain.errors import AllocationInputError
from domain.tokens import Kind, encode_id
from ets.cli import main as cli
from sim.sample import generate_enterprises, sample_account, sample_profile, write_sample
from tests.conftest import Consortium

CO2_2027 = encode_id(Kind.ALLOWANCE, "CO2", 2027)


@pytest.fixture
def onboarded(fresh: Consortium, tmp_path: Path) -> tuple[Consortium, Path, Path, AllocationPlan]:
    sample = generate_enterprises(12, 5, seed=7)
    enterprises_csv, history_csv = write_sample(sample, tmp_path)
    rows = [(sample_account(e.credit_code).address, sample_profile(e)) for e in sample.enterprises]
    assert register_enterprises(fresh.registry, fresh.members, rows, batch_size=5) == 12
    assert register_enterprises(fresh.registry, fresh.members, rows, batch_size=5) == 0  # resumable
    result = plan(load_history(history_csv, rule="benchmark"), 2027, "benchmark")
    plan_csv = result.write_csv(tmp_path / "plan.csv")
    return fresh, plan_csv, enterprises_csv, result


def _balances(c: Consortium, result: AllocationPlan, enterprises_csv: Path) -> dict[str, int]:
    from chain.onboarding import read_credit_codes

    codes = read_credit_codes(enterprises_csv)
    return {e.enterprise_id: c.allowance.balance(sample_account(codes[e.enterprise_id]).address, CO2_2027)
            for e in result.entries}  # fmt: skip


def test_execute_plan_mints_exactly_the_plan(
    onboarded: tuple[Consortium, Path, Path, AllocationPlan],
) -> None:
    c, plan_csv, enterprises_csv, result = onboarded
    report = execute_plan(c.allowance, c.registry, c.regulator, plan_csv, enterprises_csv, batch_size=5)
    assert report.minted == result.cap == c.allowance.issued(CO2_2027) == c.allowance.cap(CO2_2027)
    assert _balances(c, result, enterprises_csv) == result.allocations()


def test_execute_plan_resumes_after_interruption_without_minting_twice(
    onboarded: tuple[Consortium, Path, Path, AllocationPlan],
) -> None:
    c, plan_csv, enterprises_csv, result = onboarded

    def crash_after_first(n: int, done: bool) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        execute_plan(c.allowance, c.registry, c.regulator, plan_csv, enterprises_csv, batch_size=5,
                     on_batch=crash_after_first)  # fmt: skip
    partial = c.allowance.issued(CO2_2027)
    assert 0 < partial < result.cap
    report = execute_plan(c.allowance, c.registry, c.regulator, plan_csv, enterprises_csv, batch_size=5)
    assert report.skipped == 1 and report.minted == result.cap - partial
    assert _balances(c, result, enterprises_csv) == result.allocations()
    again = execute_plan(c.allowance, c.registry, c.regulator, plan_csv, enterprises_csv, batch_size=5)
    assert again.minted == 0 and again.skipped == again.batches


def test_execute_plan_refuses_unregistered_enterprise_and_mints_nothing(
    onboarded: tuple[Consortium, Path, Path, AllocationPlan], tmp_path: Path
) -> None:
    c, plan_csv, _, _ = onboarded
    other = generate_enterprises(12, 5, seed=8)  # same ids, other credit codes
    other_csv, _ = write_sample(other, tmp_path / "other")
    with pytest.raises(AllocationInputError) as info:
        execute_plan(c.allowance, c.registry, c.regulator, plan_csv, other_csv, batch_size=5)
    assert len(info.value.problems) == 12 and "is not registered on-chain" in info.value.problems[0]
    assert c.allowance.issued(CO2_2027) == 0


def test_execute_plan_refuses_malformed_plan_with_line_numbers(
    onboarded: tuple[Consortium, Path, Path, AllocationPlan],
) -> None:
    c, plan_csv, enterprises_csv, _ = onboarded
    lines = plan_csv.read_text().splitlines()
    lines[3] = lines[3].replace(lines[3].split(",")[1], "-5", 1)
    lines[5] = lines[5].replace(lines[5].split(",")[1], "abc", 1)
    plan_csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(AllocationInputError) as info:
        execute_plan(c.allowance, c.registry, c.regulator, plan_csv, enterprises_csv)
    text = str(info.value)
    assert "line 4" in text and "line 6" in text
    assert c.allowance.issued(CO2_2027) == 0


def test_cli_sample_plan_execute(
    onboarded: tuple[Consortium, Path, Path, AllocationPlan], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, _, enterprises_csv, result = onboarded
    runner = CliRunner()
    out = tmp_path / "cli"
    r = runner.invoke(cli.app, ["sample", "enterprises", "--n", "30", "--years", "4", "--out", str(out)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli.app, ["allocate", "plan", str(out / "history.csv"), "--year", "2027",
                                "--rule", "mixed", "--out", str(out / "plan.csv")])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert (out / "plan.png").read_bytes()[:4] == b"\x89PNG"
    assert (
        sum(AllocationPlan.read_csv(out / "plan.csv").allocations().values())
        == AllocationPlan.read_csv(out / "plan.csv").cap
    )
    # execute the fixture's plan for the registered sample through the CLI
    monkeypatch.setenv("ETS_RPC_URL", c.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    monkeypatch.setenv("ETS_MANIFEST", str(tmp_path / "manifest.json"))
    monkeypatch.setenv("ETS_DEMO", "1")
    import shutil

    shutil.copy(_manifest_file(c), tmp_path / "manifest.json")
    plan_csv = tmp_path / "plan.csv"
    args = ["allocate", "execute", str(plan_csv), "--enterprises", str(enterprises_csv)]
    r = runner.invoke(cli.app, [*args, "--batch-size", "4", "--as", "regulator"])
    assert r.exit_code == 0, r.output
    assert "3 batches: 3 minted now" in r.output
    assert c.allowance.issued(CO2_2027) == result.cap
    bad = tmp_path / "missing.csv"
    r = runner.invoke(cli.app, ["allocate", "execute", str(plan_csv), "--enterprises", str(bad),
                                "--as", "regulator"])  # fmt: skip
    assert r.exit_code == 1 and "AllocationInputError" in r.output


def _manifest_file(c: Consortium) -> Path:
    path = Path(c.manifest_path)
    assert path.exists()
    return path
