"""Local chain node (Anvil from npm): start on a free loopback port, wait until ready, stop cleanly."""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from chain.compile import ANVIL_HARDFORK, ROOT
from chain.errors import NodeError

logger = logging.getLogger(__name__)

#: Anvil's well-known development mnemonic (keys are public: demo and tests only).
DEV_MNEMONIC = "test test test test test test test test test test test junk"
#: Development accounts a node funds by default: the demo's roles and enterprises (chain.accounts).
DEV_ACCOUNT_COUNT = 23
DEFAULT_CHAIN_ID = 31337
_PR_SET_PDEATHSIG = 1


def anvil_binary(root: Path = ROOT) -> Path:
    """Path of the Anvil executable shipped by the npm package (or one on PATH).

    Raises:
        NodeError: neither is installed (run ``scripts/bootstrap``).
    """
    for candidate in sorted((root / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil")):
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise NodeError("anvil not found: run scripts/bootstrap (installs @foundry-rs/anvil from npm)")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """True if nothing listens on 127.0.0.1:``port``.

    SO_REUSEADDR, as servers set it: connections left in TIME_WAIT by a node just stopped do not
    make the port look taken, while a live listener still does.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def rpc_ready(url: str, timeout: float = 1.0) -> int | None:
    """Chain id answered by the node at ``url``, or None when it does not answer."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(json.loads(response.read())["result"], 16)
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        return None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    # Linux: the node gets SIGTERM when the Python process that started it dies,
    # so a crashed test run leaves no orphan node behind.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class AnvilNode:
    """One Anvil process on loopback.

    Use as a context manager, or call :meth:`start` / :meth:`stop`.

    Args:
        port: TCP port; a free one is picked when 0.
        chain_id: chain id to answer.
        accounts: number of funded development accounts.
        block_time: seconds between blocks; None mines one block per transaction.
        state_path: file to load state from and dump it to on exit (persistent demo chain).
        state_interval: also dump the state every this many seconds (survives a SIGKILL up to
            the last dump).
        log_path: where Anvil's output goes (discarded when None).
        cache_path: where Anvil writes the states that fall out of its memory (one file a block,
            megabytes each: a test session writes gigabytes); None: a temporary directory of this
            node, removed when it stops or is killed (Anvil's own default, ~/.foundry/anvil/tmp,
            is left behind by every node that does not exit cleanly).
        attached: kill the node when this Python process dies (tests); False for ``ets node up``.
    """

    port: int = 0
    chain_id: int = DEFAULT_CHAIN_ID
    accounts: int = DEV_ACCOUNT_COUNT
    block_time: float | None = None
    state_path: Path | None = None
    state_interval: int | None = None
    log_path: Path | None = None
    cache_path: Path | None = None
    attached: bool = True
    gas_limit: int = 30_000_000
    _process: subprocess.Popen[bytes] | None = None
    _own_cache: Path | None = None

    @property
    def url(self) -> str:
        """HTTP JSON-RPC endpoint."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def command(self) -> list[str]:
        cmd = [
            str(anvil_binary()),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--chain-id", str(self.chain_id),
            "--hardfork", ANVIL_HARDFORK,
            "--accounts", str(self.accounts),
            "--balance", "1000000",
            "--mnemonic", DEV_MNEMONIC,
            "--gas-limit", str(self.gas_limit),
        ]  # fmt: skip
        if self.block_time is not None:
            cmd += ["--block-time", str(self.block_time)]
        if self.state_path is not None:
            cmd += ["--state", str(self.state_path)]
            if self.state_interval is not None:
                cmd += ["--state-interval", str(self.state_interval)]
        cache = self.cache_path or self._own_cache
        if cache is not None:
            cmd += ["--cache-path", str(cache)]
        return cmd

    def start(self, timeout: float = 30.0) -> AnvilNode:
        """Start the node and wait until it answers JSON-RPC.

        Raises:
            NodeError: the process exited or did not answer within ``timeout`` seconds.
        """
        if self._process is not None:
            raise NodeError(f"node already running (pid {self._process.pid})")
        if self.port == 0:
            self.port = free_port()
        elif not port_is_free(self.port):
            raise NodeError(f"port {self.port} on 127.0.0.1 is already in use")
        if self.state_path is not None:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
        if self.cache_path is None:
            self._own_cache = Path(tempfile.mkdtemp(prefix="ets-anvil-cache-"))
        out: int | object = subprocess.DEVNULL
        log_file = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            log_file = self.log_path.open("ab")
            out = log_file
        try:
            self._process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=out,  # type: ignore[arg-type]
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if self.attached else None,
            )
        finally:
            if log_file is not None:
                log_file.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                self._drop_cache()
                raise NodeError(f"anvil exited with code {code} on start (port {self.port})")
            if rpc_ready(self.url, timeout=0.5) is not None:
                logger.info("anvil ready", extra={"url": self.url, "pid": self.pid})
                return self
            time.sleep(0.05)
        self.stop()
        raise NodeError(f"anvil did not answer on {self.url} within {timeout:.0f}s")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the node (SIGTERM to its process group, SIGKILL after ``timeout``)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            terminate_group(process.pid, timeout)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=1)
        self._drop_cache()

    def kill(self) -> None:
        """Kill the node at once (SIGKILL, no state dump): a crash, for fault tests."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        self._drop_cache()

    def _drop_cache(self) -> None:
        cache, self._own_cache = self._own_cache, None
        if cache is not None:
            shutil.rmtree(cache, ignore_errors=True)

    def __enter__(self) -> AnvilNode:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def terminate_group(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM the process group led by ``pid``; SIGKILL it if still alive after ``timeout``."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    # Reap our own zombie children so they do not count as alive.
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        return False
    return True


# ---------------------------------------------------------------- detached node (ets node up/down)


@dataclass(frozen=True)
class NodeState:
    """What ``ets node up`` left behind in the state directory."""

    pid: int
    port: int
    url: str
    chain_id: int
    log: str
    state_file: str


def node_up(state_dir: Path, *, port: int = 8545, chain_id: int = DEFAULT_CHAIN_ID) -> NodeState:
    """Start a detached Anvil that persists its chain state in ``state_dir``.

    Returns the running node's state when one is already up (idempotent).

    Raises:
        NodeError: the port is taken by something else, or Anvil failed to start.
    """
    current = node_status(state_dir)
    if current is not None:
        return current
    if rpc_ready(f"http://127.0.0.1:{port}", timeout=0.3) is not None:
        raise NodeError(f"port {port} already serves a chain that ets did not start")
    state_dir.mkdir(parents=True, exist_ok=True)
    node = AnvilNode(
        port=port,
        chain_id=chain_id,
        state_path=state_dir / "anvil-state.json",
        log_path=state_dir / "anvil.log",
        cache_path=state_dir / "anvil-cache",
        attached=False,
    ).start()
    assert node.pid is not None
    state = NodeState(
        pid=node.pid,
        port=node.port,
        url=node.url,
        chain_id=chain_id,
        log=str(state_dir / "anvil.log"),
        state_file=str(state_dir / "anvil-state.json"),
    )
    (state_dir / "node.json").write_text(json.dumps(state.__dict__, indent=2))
    return state


def node_status(state_dir: Path) -> NodeState | None:
    """The detached node's state if it is running and answering, else None."""
    path = state_dir / "node.json"
    if not path.exists():
        return None
    state = NodeState(**json.loads(path.read_text()))
    if pid_alive(state.pid) and rpc_ready(state.url, timeout=0.5) is not None:
        return state
    return None


def node_down(state_dir: Path) -> bool:
    """Stop the detached node (Anvil dumps its state on SIGTERM). True if one was running."""
    path = state_dir / "node.json"
    if not path.exists():
        return False
    state = NodeState(**json.loads(path.read_text()))
    running = pid_alive(state.pid)
    if running:
        terminate_group(state.pid)
    path.unlink()
    shutil.rmtree(state_dir / "anvil-cache", ignore_errors=True)  # past states of that process only
    return running
