"""Compiler driver: solc-js through py-solc-x, cache by source hash, readable errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
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


#: Compiles the project copy at argv[1], logging to stderr ("compiled N contracts" when solc ran).
COMPILE_SCRIPT = """
import logging, sys
from pathlib import Path
logging.basicConfig(level=logging.INFO, format="%(message)s")
from chain.compile import compile_contracts
print(len(compile_contracts(Path(sys.argv[1]))))
"""


def test_compile_reuses_cache_when_nothing_changed(tmp_path: Path) -> None:
    root = _project_copy(tmp_path)
    # Two processes at once (as two test workers): one runs solc, the other waits and reads its cache.
    runs = [
        subprocess.Popen([sys.executable, "-c", COMPILE_SCRIPT, str(root)], cwd=ROOT, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]  # fmt: skip
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in outputs]
    assert outputs[0][0] == outputs[1][0] and int(outputs[0][0]) > 10
    assert sum("compiled" in err for _, err in outputs) == 1
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
