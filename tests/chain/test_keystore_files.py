"""Key files on disk (issue 17 item 18): keystores and node keys are created 0600 with ``O_EXCL``
(never through a planted file or link, never overwritten) in directories created 0700, under
a permissive umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chain.accounts import dev_account, load_keystore, write_keystore
from chain.errors import ConfigError
from chain.network.errors import KeyFileError
from chain.network.keys import NodeKey, read_keystore, read_node_key, write_node_key
from chain.network.keys import write_keystore as write_network_keystore

PASSWORD = "correct horse"


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def write_service(path: Path) -> None:
    write_keystore(dev_account(5), path, PASSWORD)


def write_network(path: Path) -> None:
    write_network_keystore(NodeKey.generate().private_key, PASSWORD, path, scrypt_n=2)


def write_node(path: Path) -> None:
    write_node_key(NodeKey.generate(), path.parent)


WRITERS: dict[str, tuple[Callable[[Path], None], str, type[Exception]]] = {
    "service keystore": (write_service, "oracle.json", ConfigError),
    "network keystore": (write_network, "account-1.keystore.json", KeyFileError),
    "node key": (write_node, "key", KeyFileError),
}


@pytest.mark.usefixtures("permissive_umask")
@pytest.mark.parametrize("kind", list(WRITERS))
def test_key_file_is_0600_in_0700_directories_under_a_permissive_umask(tmp_path: Path, kind: str) -> None:
    write, name, _ = WRITERS[kind]
    path = tmp_path / "state" / "keys" / name
    write(path)
    assert mode(path) == 0o600
    assert mode(tmp_path / "state" / "keys") == 0o700
    assert mode(tmp_path / "state") == 0o700


@pytest.mark.usefixtures("permissive_umask")
@pytest.mark.parametrize("kind", list(WRITERS))
def test_key_file_is_refused_over_a_planted_link(tmp_path: Path, kind: str) -> None:
    write, name, error = WRITERS[kind]
    keys = tmp_path / "keys"
    keys.mkdir()
    planted = tmp_path / "readable-by-anyone.txt"
    planted.write_text("")
    (keys / name).symlink_to(planted)
    with pytest.raises(error, match="refusing to overwrite"):
        write(keys / name)
    assert planted.read_text() == ""  # the key never went through the link


@pytest.mark.parametrize("kind", list(WRITERS))
def test_key_file_is_never_overwritten(tmp_path: Path, kind: str) -> None:
    write, name, error = WRITERS[kind]
    path = tmp_path / name
    write(path)
    before = path.read_bytes()
    with pytest.raises(error, match="refusing to overwrite"):
        write(path)
    assert path.read_bytes() == before


def test_keystores_round_trip(tmp_path: Path) -> None:
    write_keystore(dev_account(5), tmp_path / "a.json", PASSWORD)
    assert load_keystore(tmp_path / "a.json", PASSWORD).address == dev_account(5).address
    key = NodeKey.generate()
    write_network_keystore(key.private_key, PASSWORD, tmp_path / "b.json", scrypt_n=2)
    assert read_keystore(tmp_path / "b.json", PASSWORD) == key.private_key
    write_node_key(key, tmp_path / "node")
    assert read_node_key(tmp_path / "node" / "key") == key


def test_service_keystore_is_refused_with_an_empty_password(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="non-empty password"):
        write_keystore(dev_account(5), tmp_path / "a.json", "")
    assert not (tmp_path / "a.json").exists()
