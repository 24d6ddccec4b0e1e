"""Validator/node keys (secp256k1): Besu node key files, enode URLs, encrypted V3 keystores."""

from __future__ import annotations

import ipaddress
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coincurve import PrivateKey
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from chain.accounts import write_private_file
from chain.network.errors import KeyFileError, NetworkConfigError

#: secp256k1 group order: a private key is an integer in [1, N).
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
NODE_KEY_FILE = "key"
NODE_PUBLIC_KEY_FILE = "key.pub"


@dataclass(frozen=True)
class NodeKey:
    """A node's secp256k1 key. On a QBFT network the node key is also the validator key: the
    validator address is the address of this key.

    Attributes:
        private_key: 32 bytes; never logged, never committed.
    """

    private_key: bytes

    def __post_init__(self) -> None:
        if len(self.private_key) != 32 or not 0 < int.from_bytes(self.private_key, "big") < SECP256K1_N:
            raise KeyFileError("a secp256k1 private key is 32 bytes in [1, n)")

    def __repr__(self) -> str:
        return f"NodeKey(address={self.address})"

    @classmethod
    def generate(cls) -> NodeKey:
        """A fresh key from the operating system's CSPRNG."""
        while True:
            candidate = secrets.token_bytes(32)
            if 0 < int.from_bytes(candidate, "big") < SECP256K1_N:
                return cls(candidate)

    @property
    def public_key(self) -> bytes:
        """The 64-byte uncompressed public key without the 0x04 prefix (the enode id)."""
        return PrivateKey(self.private_key).public_key.format(compressed=False)[1:]

    @property
    def node_id(self) -> str:
        """The enode id: 128 lowercase hex characters."""
        return self.public_key.hex()

    @property
    def address(self) -> str:
        """The checksummed account address of the key (the QBFT validator address)."""
        return to_checksum_address(keccak(self.public_key)[-20:])

    def enode(self, host: str, port: int) -> str:
        """``enode://ID@HOST:PORT`` for this node."""
        return enode_url(self.node_id, host, port)


def enode_url(node_id: str, host: str, port: int) -> str:
    """An enode URL; IPv6 hosts are bracketed.

    Raises:
        NetworkConfigError: a malformed node id or port.
    """
    check_node_id(node_id)
    if not 0 < port < 65536:
        raise NetworkConfigError(f"port {port} is outside 1..65535")
    shown = f"[{host}]" if ":" in host else host
    return f"enode://{node_id.lower()}@{shown}:{port}"


def check_node_id(node_id: str) -> str:
    """The node id in lowercase.

    Raises:
        NetworkConfigError: not 128 hex characters.
    """
    if len(node_id) != 128 or any(c not in "0123456789abcdefABCDEF" for c in node_id):
        raise NetworkConfigError(f"enode id must be 128 hex characters, got {node_id[:16]!r}…")
    return node_id.lower()


@dataclass(frozen=True)
class Enode:
    """A parsed enode URL: node id, host and TCP listening port."""

    node_id: str
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> Enode:
        """Parse ``enode://ID@HOST:PORT[?discport=N]``.

        Raises:
            NetworkConfigError: not an enode URL.
        """
        if not url.startswith("enode://") or "@" not in url:
            raise NetworkConfigError(f"not an enode URL: {url!r}")
        node_id, _, rest = url[len("enode://") :].partition("@")
        rest = rest.split("?", 1)[0]
        host, sep, port_text = rest.rpartition(":")
        if not sep or not port_text.isdigit():
            raise NetworkConfigError(f"enode URL without a port: {url!r}")
        host = host.removeprefix("[").removesuffix("]")
        return cls(check_node_id(node_id), host, int(port_text))

    @property
    def url(self) -> str:
        return enode_url(self.node_id, self.host, self.port)

    @property
    def besu_host(self) -> str:
        """The host as Besu passes it to ``connectionAllowed`` (v2): ``0x`` + hex of the IP's
        text (Java ``InetAddress.getHostAddress()``; IPv6 in its long form)."""
        return besu_host(self.host)


def besu_host(host: str) -> str:
    """``0x``-hex of the address text Besu's node-permissioning v2 call sends for ``host``.

    Raises:
        NetworkConfigError: ``host`` is not an IP literal (Besu resolves names before asking).
    """
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise NetworkConfigError(f"{host!r} is not an IP address (Besu asks with the resolved IP)") from None
    text = str(ip) if ip.version == 4 else ":".join(f"{int(g, 16):x}" for g in ip.exploded.split(":"))
    return "0x" + text.encode().hex()


def write_node_key(key: NodeKey, directory: Path) -> Path:
    """Write Besu's node key file (``key``: 0x-hex, mode 0600, created with ``O_EXCL``; the
    directory created 0700) and ``key.pub``; returns the key path.

    Raises:
        KeyFileError: the key file exists already (never overwritten).
    """
    path = directory / NODE_KEY_FILE
    try:
        write_private_file(path, ("0x" + key.private_key.hex()).encode())
    except FileExistsError:
        raise KeyFileError(f"{path} exists; refusing to overwrite a node key") from None
    (directory / NODE_PUBLIC_KEY_FILE).write_text("0x" + key.node_id)
    return path


def read_node_key(path: Path) -> NodeKey:
    """Read a Besu node key file.

    Raises:
        KeyFileError: missing or not a 32-byte hex key.
    """
    try:
        text = path.read_text().strip().removeprefix("0x")
        return NodeKey(bytes.fromhex(text))
    except FileNotFoundError:
        raise KeyFileError(f"node key {path} not found") from None
    except ValueError:
        raise KeyFileError(f"node key {path} is not 32 hex bytes") from None


def write_keystore(private_key: bytes, password: str, path: Path, *, scrypt_n: int | None = None) -> str:
    """Encrypt ``private_key`` into a V3 keystore at ``path`` (mode 0600, created with ``O_EXCL``;
    missing directories created 0700); returns the address.

    Args:
        scrypt_n: scrypt cost (the eth-account default when None; tests pass a small one).

    Raises:
        KeyFileError: empty password or the file exists.
    """
    if not password:
        raise KeyFileError("a keystore needs a non-empty password")
    data: dict[str, Any] = Account.encrypt(private_key, password, kdf="scrypt", iterations=scrypt_n)
    try:
        write_private_file(path, json.dumps(data).encode())
    except FileExistsError:
        raise KeyFileError(f"{path} exists; refusing to overwrite a keystore") from None
    return to_checksum_address("0x" + str(data["address"]))


def read_keystore(path: Path, password: str) -> bytes:
    """Decrypt a V3 keystore; returns the private key.

    Raises:
        KeyFileError: missing, malformed, or a wrong password.
    """
    try:
        return bytes(Account.decrypt(json.loads(path.read_text()), password))
    except FileNotFoundError:
        raise KeyFileError(f"keystore {path} not found") from None
    except (ValueError, KeyError) as exc:
        raise KeyFileError(f"cannot decrypt {path}: {exc}") from None
