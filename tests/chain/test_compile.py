"""Compiler driver: solc-js through py-solc-x, cache by source hash, readable errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chain.compile import EVM_VERSION, ROOT, compile_contracts, solc_version
from chain.errors import CompileError


def _project_copy(tmp_path: Path) -> Path:
    (tmp_path / "contracts").mkdir()
    shutil.copytree(ROOT / "contracts" / "src", tmp_path / "contracts" / "src")
    (tmp_path / "node_modules").symlink_to(ROOT / "node_modules")
    shutil.copy(ROOT / "package-lock.json", tmp_path / "package-lock.json")
    return tmp_path


def test_solc_version_is_the_pinned_npm_package() -> None:
    assert solc_version() == "0.8.28"
    assert EVM_VERSION == "shanghai"


def test_compile_produces_abi_bytecode_and_layout_when_sources_valid() -> None:
    artifacts = compile_contracts()
    registry = artifacts["ConsortiumRegistry"]
    assert registry.bytecode.startswith("0x60") and len(registry.deployed_bytecode) > 1000
    assert any(e.get("name") == "transactionAllowed" for e in registry.abi)
    assert registry.storage_layout["storage"]
    assert "RegistryDuplicateEnterprise(string,address)" in registry.userdoc["errors"]


def test_compile_reuses_cache_when_nothing_changed(tmp_path: Path) -> None:
    root = _project_copy(tmp_path)
    compile_contracts(root)
    cached = list((root / "build" / "artifacts").glob("*.json"))
    assert len(cached) == 1
    before = cached[0].stat().st_mtime_ns
    again = compile_contracts(root)
    assert cached[0].stat().st_mtime_ns == before
    assert "ConsortiumRegistry" in again
    (root / "contracts" / "src" / "Extra.sol").write_text(
        "// SPDX-License-Identifier: MIT\npragma solidity 0.8.28;\ncontract Extra {}\n"
    )
    assert "Extra" in compile_contracts(root)
    assert len(list((root / "build" / "artifacts").glob("*.json"))) == 2


def test_compile_reports_file_and_line_when_source_broken(tmp_path: Path) -> None:
    root = _project_copy(tmp_path)
    broken = root / "contracts" / "src" / "Broken.sol"
    broken.write_text(
        "// SPDX-License-Identifier: MIT\npragma solidity 0.8.28;\n\ncontract Broken {\n"
        "    function f() external { undefinedThing(); }\n}\n"
    )
    with pytest.raises(CompileError) as info:
        compile_contracts(root)
    assert "contracts/src/Broken.sol:5: DeclarationError: Undeclared identifier." in str(info.value)
