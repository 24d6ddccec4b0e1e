"""Concentration limits of a site from the enterprise's discharge permit on a real chain: each permit
outlet's device gets the permit's limit per pollutant (thousandths on-chain), winning over the site
file's; a device of no permit keeps the site file's; a limit for an unknown device is refused."""

from __future__ import annotations

import copy
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr

from chain.deploy import ContractRecord
from oracle.errors import GatewayConfigError
from oracle.service import DeviceEntry, LimitEntry, SiteConfig, site_limits
from oracle.standards import ConcentrationLimit, StandardsMonitor
from tests.conftest import Consortium
from tests.utils.chain import register
from tests.utils.permits import ENTERPRISES, deploy_permits, issued, outlets

E0, E1 = ENTERPRISES[:2]


def device(mn: str, enterprise: str) -> DeviceEntry:
    return DeviceEntry(mn=mn, enterprise=enterprise, password=SecretStr("pw123456"), keystore=Path("k.json"))


def test_site_limits_from_permit_win_over_site_file(fresh: Consortium) -> None:
    permits = deploy_permits(fresh)
    for i, e in enumerate((E0, E1)):
        register(fresh.registry, fresh.members, e.address, seed=960 + i)
    c = replace(fresh, permits=permits)
    permit_id = issued(c, E0)  # SO2 35 mg/m3, NOx 50 mg/m3 at its outlet
    mn = outlets(E0)[0].mn
    manifest = copy.deepcopy(c.manifest)
    manifest.contracts["DischargePermits"] = ContractRecord(permits.address, 0, "0x", "", [])
    site = SiteConfig(
        devices=[device(mn, E0.address), device("MN0000000001", E1.address)],
        limits=[
            LimitEntry(mn=mn, pollutant="a21026", limit=Decimal(100)),
            LimitEntry(mn="MN0000000001", pollutant="w01018", limit=Decimal(60)),
        ],
    )
    limits = StandardsMonitor(site_limits(site, c.chain, manifest, permits=True)).limits
    assert sorted(limits, key=lambda x: (x.mn, x.pollutant)) == [
        ConcentrationLimit("MN0000000001", "w01018", Decimal(60)),
        ConcentrationLimit(mn, "a21002", Decimal(50), "permit", permit_id),
        ConcentrationLimit(mn, "a21026", Decimal(35), "permit", permit_id),
    ]
    site_only = site_limits(site, c.chain, manifest, permits=False)
    assert {x.source for x in site_only} == {"site"}
    bad = site.model_copy(update={"limits": [LimitEntry(mn="MN9", pollutant="w01018", limit=Decimal(1))]})
    with pytest.raises(GatewayConfigError, match="unknown device code MN9"):
        site_limits(bad, c.chain, manifest, permits=False)
