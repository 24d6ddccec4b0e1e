"""Compile the Solidity sources with solc-js (through py-solc-x and a shim) and cache artifacts."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import solcx

from chain.errors import CompileError

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
SHIM = Path(__file__).resolve().parent / "solc_shim.mjs"
SOURCE_DIRS = ("contracts/src", "contracts/test")
#: npm sources compiled with the project's solc and exported as artifacts like the project's own
#: (the Safe{Wallet} multisig's deployables: singleton, proxy factory, fallback handler).
PACKAGE_SOURCES = (
    "@safe-global/safe-contracts/contracts/SafeL2.sol",
    "@safe-global/safe-contracts/contracts/proxies/SafeProxyFactory.sol",
    "@safe-global/safe-contracts/contracts/handler/CompatibilityFallbackHandler.sol",
)

#: EVM version the contracts target. Shanghai is the newest milestone Besu's QBFT networks are
#: tested with (PUSH0, no Cancun blob/transient opcodes); Anvil runs with the same hardfork.
EVM_VERSION = "shanghai"
ANVIL_HARDFORK = "shanghai"
OPTIMIZER_RUNS = 200

SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
    "evmVersion": EVM_VERSION,
    "outputSelection": {
        "*": {
            "*": [
                "abi",
                "evm.bytecode.object",
                "evm.deployedBytecode.object",
                "storageLayout",
                "evm.methodIdentifiers",
                "userdoc",
            ]
        }
    },
}


@dataclass(frozen=True)
class Artifact:
    """One compiled contract."""

    name: str
    source: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    storage_layout: dict[str, Any]
    userdoc: dict[str, Any]

    @property
    def abi_hash(self) -> str:
        """SHA-256 of the canonical ABI JSON (recorded in deployment manifests)."""
        return hashlib.sha256(json.dumps(self.abi, sort_keys=True).encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "abi": self.abi,
            "bytecode": self.bytecode,
            "deployedBytecode": self.deployed_bytecode,
            "storageLayout": self.storage_layout,
            "userdoc": self.userdoc,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Artifact:
        return cls(
            name=data["name"],
            source=data["source"],
            abi=data["abi"],
            bytecode=data["bytecode"],
            deployed_bytecode=data["deployedBytecode"],
            storage_layout=data["storageLayout"],
            userdoc=data.get("userdoc") or {},
        )


def solc_version() -> str:
    """Version string of the solc-js package behind the shim (e.g. ``0.8.28``)."""
    return str(solcx.wrapper.get_solc_version(SHIM))


def _sources(root: Path) -> dict[str, str]:
    files: dict[str, str] = {}
    for folder in SOURCE_DIRS:
        base = root / folder
        if base.is_dir():
            for path in sorted(base.rglob("*.sol")):
                files[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8")
    if not files:
        raise CompileError(f"no Solidity sources under {', '.join(SOURCE_DIRS)} in {root}")
    for name in PACKAGE_SOURCES:
        package_file = root / "node_modules" / name
        if package_file.is_file():  # absent before `scripts/bootstrap` installs the npm packages
            files[name] = package_file.read_text(encoding="utf-8")
    return files


def _cache_key(root: Path, sources: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name, text in sorted(sources.items()):
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    digest.update(json.dumps(SETTINGS, sort_keys=True).encode())
    lock = root / "package-lock.json"  # pins solc and OpenZeppelin versions
    if lock.exists():
        digest.update(lock.read_bytes())
    return digest.hexdigest()[:24]


def _line_of(text: str, byte_offset: int) -> int:
    return text.encode()[:byte_offset].count(b"\n") + 1


def _format_errors(errors: list[dict[str, Any]], sources: dict[str, str]) -> str:
    lines = []
    for err in errors:
        if err.get("severity") != "error":
            continue
        loc = err.get("sourceLocation") or {}
        file = loc.get("file", "<solc>")
        text = sources.get(file)
        line = _line_of(text, int(loc.get("start", 0))) if text is not None else 0
        lines.append(f"{file}:{line}: {err.get('type', 'Error')}: {err.get('message', '').strip()}")
    return "\n".join(lines)


def compile_contracts(root: Path = ROOT, *, force: bool = False) -> dict[str, Artifact]:
    """Compile every contract under ``contracts/``; reuse the cached artifacts when unchanged.

    Args:
        root: project root (holds ``contracts/`` and ``node_modules/``).
        force: recompile even when a cached build matches.

    Returns:
        Artifacts by contract name.

    Raises:
        CompileError: solc reported errors (each as ``file:line: message``).
    """
    sources = _sources(root)
    key = _cache_key(root, sources)
    cache_dir = root / "build" / "artifacts"
    cache_file = cache_dir / f"{key}.json"
    if cache_file.exists() and not force:
        return _read_cache(cache_file)
    # Processes compiling at once (e.g. parallel test workers) take turns: the first compiles and
    # writes the cache, the others then read it instead of compiling the same sources again.
    with _locked(cache_dir / ".lock"):
        if cache_file.exists() and not force:
            return _read_cache(cache_file)
        return _compile(sources, key, cache_file)


def _read_cache(cache_file: Path) -> dict[str, Artifact]:
    data = json.loads(cache_file.read_text())
    return {name: Artifact.from_json(item) for name, item in data["contracts"].items()}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
        yield


def _compile(sources: dict[str, str], key: str, cache_file: Path) -> dict[str, Artifact]:
    """Compile ``sources`` with solc and write the artifacts to ``cache_file`` atomically."""
    started = time.perf_counter()
    standard_input = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": SETTINGS,
    }
    try:
        output = solcx.compile_standard(standard_input, solc_binary=SHIM, allow_empty=False)
    except solcx.exceptions.SolcError as exc:
        raise CompileError(_format_errors(list(exc.error_dict or []), sources) or str(exc)) from None

    artifacts: dict[str, Artifact] = {}
    for source_name, contracts in output.get("contracts", {}).items():
        if source_name not in sources:
            continue  # library sources (OpenZeppelin) are compiled but not exported
        for name, out in contracts.items():
            if name in artifacts:
                raise CompileError(f"{source_name}: contract name {name} is defined twice")
            artifacts[name] = Artifact(
                name=name,
                source=source_name,
                abi=out["abi"],
                bytecode="0x" + out["evm"]["bytecode"]["object"],
                deployed_bytecode="0x" + out["evm"]["deployedBytecode"]["object"],
                storage_layout=out.get("storageLayout") or {},
                userdoc=out.get("userdoc") or {},
            )
    payload = {
        "key": key,
        "solc": solc_version(),
        "evmVersion": EVM_VERSION,
        "contracts": {n: a.to_json() for n, a in artifacts.items()},
    }
    # A temporary file of this process's own, then a rename: a reader sees the whole cache or none.
    fd, tmp = tempfile.mkstemp(dir=cache_file.parent, prefix=f".{key}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle)
        os.chmod(tmp, 0o644)  # as a plain write would leave it (mkstemp makes it 0600)
        Path(tmp).replace(cache_file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    logger.info("compiled %d contracts in %.1fs", len(artifacts), time.perf_counter() - started)
    return artifacts


def all_abis(artifacts: dict[str, Artifact]) -> list[dict[str, Any]]:
    """Every ABI entry of every artifact (used to decode custom errors from any contract)."""
    return [entry for artifact in artifacts.values() for entry in artifact.abi]


def error_notices(artifacts: dict[str, Artifact]) -> dict[str, str]:
    """NatSpec ``@notice`` of every custom error, by signature (``Name(type,...)``)."""
    notices: dict[str, str] = {}
    for artifact in artifacts.values():
        for signature, docs in (artifact.userdoc.get("errors") or {}).items():
            for doc in docs:
                if doc.get("notice"):
                    notices.setdefault(signature, str(doc["notice"]))
    return notices
