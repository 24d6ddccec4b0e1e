"""Exceptions raised by the oracle package (field side: HJ 212 frames, Merkle batches)."""

from __future__ import annotations

from ets.errors import EtsError


class OracleError(EtsError):
    """Base class of errors raised on the field side: frames, readings, batches, anchoring."""


# --- HJ 212 frames -------------------------------------------------------------------------


class FrameError(OracleError, ValueError):
    """Base class of HJ 212 frame defects; catch this to drop or NAK any bad frame."""


class FrameSyntaxError(FrameError):
    """Raised when a frame is malformed: no ``##`` header, no CR LF, a bad field or CP item."""


class FrameChecksumError(FrameError):
    """Raised when the frame's CRC16 does not match the CRC computed over its data segment."""


class FrameLengthError(FrameError):
    """Raised when the 4-digit length disagrees with the data segment actually received."""


class FrameTruncatedError(FrameError):
    """Raised when a frame ends (or a new line starts) before its declared length is reached."""


class FrameTooLargeError(FrameError):
    """Raised when a data segment is longer than the configured maximum (default 1024 bytes)."""


class FrameMissingFieldError(FrameError):
    """Raised when a required field (ST, CN, PW, MN, CP; QN for replies) or PNUM/PNO is absent."""


class FrameValueError(FrameError):
    """Raised when a field has a bad value: non-numeric reading, bad DataTime, bad Flag or PNO."""


class ReadingNotFoundError(OracleError, KeyError):
    """Raised when a frame holds no value for the requested pollutant code and suffix."""


class ReassemblyError(FrameError):
    """Raised when packet-split frames cannot be joined: conflicting parts or PNUM changes."""


# --- Merkle batches ------------------------------------------------------------------------


class MerkleError(OracleError):
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
