"""The projection registry: handlers are keyed by (contract, event), so a key that names an event
its contract does not declare would silently project nothing."""

from __future__ import annotations

from chain.compile import compile_contracts
from readmodel.indexer.projections import HANDLERS


def test_every_projected_event_is_declared_by_its_contract() -> None:
    declared = {
        (name, entry["name"])
        for name, artifact in compile_contracts().items()
        for entry in artifact.abi
        if entry.get("type") == "event"
    }
    assert sorted(set(HANDLERS) - declared) == []
