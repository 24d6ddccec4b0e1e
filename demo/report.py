"""What the demo tells the person who ran it: the node, the manifest, the accounts, the steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from chain.deploy import Manifest
from chain.node import NodeState

if TYPE_CHECKING:
    from demo.market import MarketDayReport


@dataclass
class DemoReport:
    """Where everything is, for the person who ran the demo."""

    node: NodeState
    manifest_path: Path
    manifest: Manifest
    accounts: dict[str, str]
    steps: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    holdings: list[tuple[str, str, int]] = field(default_factory=list)
    #: The exchange market's trading day (``demo.market``), when the deployment has a Market.
    market: MarketDayReport | None = None
