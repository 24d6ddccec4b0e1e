"""Accounts: demo accounts from Anvil's public mnemonic, and service keys from keystores."""

from __future__ import annotations

import contextlib
import functools
import json
import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from chain.errors import ConfigError
from chain.node import DEV_ACCOUNT_COUNT, DEV_MNEMONIC

Account.enable_unaudited_hdwallet_features()

#: A signing account, for the layers above chain/ that name one without importing eth_account.
Signer = LocalAccount

#: Roles of the demo consortium, by Anvil account index.
DEMO_ROLES: dict[str, int] = {
    "deployer": 0,
    "regulator": 1,
    "exchange": 2,
    "industry-body": 3,
    "auditor": 4,
    "oracle": 5,
    "treasury": 6,
}
#: Demo enterprises use Anvil accounts from this index on (``enterprise-1`` ... ``enterprise-16``).
FIRST_ENTERPRISE_INDEX = 7
DEMO_ACCOUNT_COUNT = DEV_ACCOUNT_COUNT


@functools.lru_cache(maxsize=256)
def dev_account(index: int) -> LocalAccount:
    """Anvil development account ``index`` (its key is public: demo and tests only)."""
    account: LocalAccount = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return account


def demo_account(name: str) -> LocalAccount:
    """Demo account by role name (``regulator``, ``exchange``...) or ``enterprise-N`` (N >= 1).

    Raises:
        ConfigError: unknown name.
    """
    if name in DEMO_ROLES:
        return dev_account(DEMO_ROLES[name])
    if name.startswith("enterprise-") and name[len("enterprise-") :].isdigit():
        n = int(name[len("enterprise-") :])
        if 1 <= n <= DEMO_ACCOUNT_COUNT - FIRST_ENTERPRISE_INDEX:
            return dev_account(FIRST_ENTERPRISE_INDEX + n - 1)
    known = ", ".join([*DEMO_ROLES, f"enterprise-1..{DEMO_ACCOUNT_COUNT - FIRST_ENTERPRISE_INDEX}"])
    raise ConfigError(f"unknown demo account {name!r}; known: {known}")


def account_from_key(key: bytes | str) -> LocalAccount:
    """The account of a raw private key (32 bytes, or hex)."""
    account: LocalAccount = Account.from_key(key)
    return account


def seeded_account(seed: str) -> LocalAccount:
    """Deterministic account whose key is the keccak-256 of ``seed`` (a public derivation: sample
    consortia, simulations and benchmarks only)."""
    return account_from_key(keccak(text=seed))


@functools.lru_cache(maxsize=1)
def demo_private_keys() -> frozenset[str]:
    """Hex private keys of every demo account (refused outside demo mode)."""
    return frozenset(dev_account(i).key.hex().removeprefix("0x") for i in range(DEMO_ACCOUNT_COUNT))


def is_demo_key(private_key: str) -> bool:
    """True if ``private_key`` is one of Anvil's public development keys."""
    return private_key.lower().removeprefix("0x") in demo_private_keys()


def load_keystore(path: Path, password: str) -> LocalAccount:
    """Decrypt a V3 keystore file.

    Raises:
        ConfigError: the file is missing, malformed or the password is wrong.
    """
    try:
        data = json.loads(path.read_text())
        key = Account.decrypt(data, password)
    except FileNotFoundError:
        raise ConfigError(f"keystore {path} not found") from None
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"cannot decrypt keystore {path}: {exc}") from None
    account: LocalAccount = Account.from_key(key)
    return account


#: Mode of key files (owner read/write) and of the directories created for them (owner only).
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def private_directory(directory: Path) -> Path:
    """Create ``directory`` and its missing parents with mode 0700, whatever the umask.

    Directories that exist already are left as they are.
    """
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        current = current.parent
    for created in reversed(missing):
        with contextlib.suppress(FileExistsError):  # created meanwhile by another process
            created.mkdir(mode=PRIVATE_DIR_MODE)
            created.chmod(PRIVATE_DIR_MODE)  # the umask may have taken bits away
    return directory


def write_private_file(path: Path, data: bytes) -> Path:
    """Create ``path`` with mode 0600 and write ``data``; never overwrites.

    The file is created with ``O_EXCL`` and its final mode, so it is never readable by others,
    not even for an instant under a permissive umask; missing directories are created 0700.

    Raises:
        FileExistsError: the file exists already.
    """
    private_directory(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)  # the umask may have taken bits away
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    return path


def write_keystore(account: LocalAccount, path: Path, password: str) -> Path:
    """Encrypt ``account`` into a V3 keystore file readable only by its owner (mode 0600, in
    directories created 0700).

    Raises:
        ConfigError: empty password, or the file exists (a keystore is never overwritten).
    """
    if not password:
        raise ConfigError("a keystore needs a non-empty password")
    data = Account.encrypt(account.key, password)
    try:
        return write_private_file(path, json.dumps(data).encode())
    except FileExistsError:
        raise ConfigError(f"{path} exists; refusing to overwrite a keystore") from None
