"""sim.sample's account records: groups of the sample consortium (central power groups, local
groups sharing a controller), the demo enterprises' records, and their CSV read back by the
surveillance's parser."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from chain.accounts import demo_account
from domain.surveillance import parse_account_records
from sim.sample import (
    CENTRAL_SASAC,
    demo_account_records,
    generate_enterprises,
    sample_account,
    sample_account_records,
    write_demo_account_records,
)


def test_sample_records_hold_groups_of_enterprises_sharing_a_controller() -> None:
    sample = generate_enterprises(200, 10, seed=2027)
    records = sample_account_records(sample)
    assert [r.account for r in records] == [sample_account(e.credit_code).address for e in sample.enterprises]
    assert records == sample_account_records(sample)  # deterministic
    groups: dict[str, list[str | None]] = defaultdict(list)
    for r in records:
        if r.group:
            groups[r.group].append(r.controller)
    local = {g: c for g, c in groups.items() if c[0] != CENTRAL_SASAC}
    assert local and all(len(c) >= 2 and len(set(c)) == 1 for c in local.values())
    assert any(c[0] == CENTRAL_SASAC and len(c) >= 2 for c in groups.values())
    # a private controller is never shared across groups or with a standalone enterprise
    owners: dict[str | None, set[str | None]] = defaultdict(set)
    for r in records:
        owners[r.controller].add(r.group)
    assert all(len(g) == 1 for c, g in owners.items() if c != CENTRAL_SASAC)


def test_demo_records_put_enterprise_1_and_2_in_one_group_and_read_back(tmp_path: Path) -> None:
    demo = demo_account_records()
    e1, e2 = demo[0], demo[1]
    assert (e1.account, e2.account) == (
        demo_account("enterprise-1").address,
        demo_account("enterprise-2").address,
    )
    assert e1.group == e2.group and e1.controller == e2.controller
    path = write_demo_account_records(generate_enterprises(30, 3, seed=7), tmp_path)
    parsed = parse_account_records(path.read_text(), source=path.name)
    assert parsed[:6] == demo and len(parsed) == 36
