"""Exceptions raised by the chain package."""

from __future__ import annotations

from typing import Any

from domain.errors import EtsError


class ChainError(EtsError):
    """Base class of errors raised while talking to the chain or preparing for it."""


class CompileError(ChainError):
    """Raised when solc reports errors; the message lists them as ``file:line: message``."""


class NodeError(ChainError, RuntimeError):
    """Raised when the local node cannot be started, reached or stopped."""


class DeploymentError(ChainError):
    """Raised when a deployment manifest is missing, stale or does not match the chain."""


class ConfigError(ChainError, ValueError):
    """Raised when settings are invalid, e.g. a demo key outside demo mode."""


class ChainUnavailableError(ChainError, ConnectionError):
    """Raised when the node does not answer (down, restarting, network cut); retry later."""


class TransactionError(ChainError):
    """Raised when a transaction is mined but failed, or could not be sent."""


class ContractRevertError(ChainError):
    """Raised when a call or transaction reverts; names the custom error and its arguments.

    Attributes:
        error: the custom error's name (``"Panic"`` / ``"Error"`` for builtins, ``"Unknown"``).
        args_: decoded arguments by parameter name.
        data: the raw revert data.
        tx_hash: hash of the mined transaction, when it got that far.
        notice: the error's NatSpec notice (what it means), when known.
    """

    notice: str = ""

    def __init__(
        self,
        error: str,
        args: dict[str, Any],
        data: bytes,
        *,
        message: str | None = None,
        tx_hash: str | None = None,
    ) -> None:
        self.error = error
        self.args_ = args
        self.data = data
        self.tx_hash = tx_hash
        shown = ", ".join(f"{k}={_show(v)}" for k, v in args.items())
        super().__init__(message or f"{error}({shown})")

    def explain(self) -> str:
        """``Name(args)`` followed by the error's meaning, for people."""
        return f"{self}: {self.notice}" if self.notice else str(self)

    def json_args(self) -> dict[str, Any]:
        """The arguments as JSON values: bytes as 0x-hex, integers beyond 2**53 (which
        JavaScript clients would round) as decimal strings."""
        return {k: _json_value(v) for k, v in self.args_.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return str(value)
    return value


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str):
        return repr(value) if not value.startswith("0x") else value
    return str(value)


class SiweError(ChainError, ValueError):
    """Raised when a Sign-In with Ethereum (EIP-4361) message or its signature is refused."""


class SiweMessageError(SiweError):
    """Raised when a SIWE message does not follow the EIP-4361 grammar or has an invalid field."""


class SiweSignatureError(SiweError):
    """Raised when a SIWE signature is malformed or was not made by the message's address."""


class SiweDomainError(SiweError):
    """Raised when a SIWE message names another domain (or chain) than the server's."""


class SiweNonceError(SiweError):
    """Raised when a SIWE message's nonce is not the one the server issued (unknown or reused)."""


class SiweExpiredError(SiweError):
    """Raised when a SIWE message is used after its expiration time or before its not-before time."""


class CallInputError(ChainError, ValueError):
    """Raised when a contract call asked for by name has an unknown contract or function, or its
    arguments do not fit the function's ABI types (the message names the argument)."""


class RawTransactionError(ChainError, ValueError):
    """Raised when a signed raw transaction cannot be decoded, or is not the call it should be
    (other sender, target, data, value or chain)."""


class SafeError(ChainError):
    """Base class of errors raised while building, signing or executing a Safe multisig transaction."""


class SafeSignatureError(SafeError, ValueError):
    """Raised when a Safe transaction's signature is malformed (not 65 bytes, unknown ``v``, not
    recoverable)."""


class SafeSignerNotOwnerError(SafeError, ValueError):
    """Raised when a Safe transaction is signed by an account that is not one of the Safe's
    representatives (owners)."""


class SafeThresholdNotMetError(SafeError, ValueError):
    """Raised when a Safe transaction is executed with fewer representatives' signatures than
    the Safe's threshold."""


class SafeNonceError(SafeError, ValueError):
    """Raised when a Safe transaction's nonce is not the Safe's current nonce (already executed
    or another transaction must go first)."""


class IndexerError(ChainError):
    """Raised when the event indexer cannot go on: the chain no longer has the indexed blocks
    (reset or reorganised below the checkpoint) or the read model belongs to another deployment."""


# --- Merkle trees (chain.merkle) ----------------------------------------------------------


class MerkleError(ChainError):
    """Base class of errors raised while building, loading or proving a Merkle tree."""


class MerkleEmptyTreeError(MerkleError, ValueError):
    """Raised when a tree is requested over zero leaves (OpenZeppelin refuses it too)."""


class MerkleLeafEncodingError(MerkleError, ValueError):
    """Raised when a leaf value does not fit the tree's ABI leaf encoding."""


class MerkleLeafNotFoundError(MerkleError, KeyError):
    """Raised when a proof is asked for a value that is not a leaf of the tree."""


class MerkleIndexError(MerkleError, IndexError):
    """Raised when a value index is out of bounds or names no leaf."""


class MerkleProofFormatError(MerkleError, ValueError):
    """Raised when a proof or multiproof is malformed (not 32-byte nodes, wrong counts)."""


class MerkleTreeFormatError(MerkleError, ValueError):
    """Raised when a dumped tree fails to load: unknown format, bad nodes, values not in tree."""
