"""Exceptions raised by the oracle package (field side: HJ 212 frames, readings, batches)."""

from __future__ import annotations

from datetime import datetime

from domain.errors import EtsError


class OracleError(EtsError):
    """Base class of errors raised on the field side: frames, readings, batches, anchoring."""


# --- HJ 212 frames -------------------------------------------------------------------------


class FrameError(OracleError, ValueError):
    """Base class of HJ 212 frame defects; catch this to drop or NAK any bad frame."""


class FrameSyntaxError(FrameError):
    """Raised when a frame is malformed: no ``##`` header, no CR LF, a bad field or CP item."""


class FrameChecksumError(FrameError):
    """Raised when the frame's CRC16 does not match the CRC computed over its data segment."""


class FrameCrcVariantError(FrameChecksumError):
    """Raised when a frame's CRC is not its device's variant (an HJ 212 CRC from a device set to
    Modbus CRC-16, or the reverse): the frame is refused even though it is intact."""


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


class ReassemblyLimitError(ReassemblyError):
    """Raised when a split message announces too many packets, or a link's incomplete messages
    would hold too many bytes (they are all dropped then)."""


# --- transports ----------------------------------------------------------------------------


class TransportError(OracleError, OSError):
    """Base class of serial and TCP transport failures (opening, binding, lifecycle)."""


class TransportOpenError(TransportError):
    """Raised when a serial port cannot be opened or a TCP server cannot bind its address."""


class TransportStateError(TransportError):
    """Raised when a transport is started twice or used after it was stopped."""


# --- card-swipe quota control --------------------------------------------------------------


class QuotaError(OracleError):
    """Base class of errors raised by the card-swipe total-amount (quota) controller."""


class QuotaSplitError(QuotaError, ValueError):
    """Raised when a monthly split is invalid: wrong count, negative, sub-gram or bad sum."""


class CardRefusedError(QuotaError, PermissionError):
    """Base class of refused IC-card swipes; catch this to refuse any bad card."""


class UnknownCardError(CardRefusedError):
    """Raised when a swiped IC card is bound to no enterprise."""


class ForeignCardError(CardRefusedError):
    """Raised when a swiped IC card is bound to another enterprise than the controller's."""


class QuotaNotAllocatedError(QuotaError, LookupError):
    """Raised when a load or top-up names a year or pollutant the regulator gave no quota."""


class QuotaTimeError(QuotaError, ValueError):
    """Raised when a swipe, top-up or frame has no time or a time before the current month."""


class DischargeError(QuotaError, ValueError):
    """Raised when a frame's discharge cannot be computed (no -Cou, no flow volume, no interval)."""


class QuotaStateError(QuotaError, ValueError):
    """Raised when a saved quota state cannot be loaded: bad shape, values or enterprise."""


# --- quality control -----------------------------------------------------------------------


class QcError(OracleError):
    """Base class of errors raised by data quality control."""


class QcConfigError(QcError, ValueError):
    """Raised when a quality-control setting is invalid (bad range, window or interval)."""


class FrameRejectedError(QcError, ValueError):
    """Base class of whole data frames refused by quality control; none of their readings is kept.

    Attributes:
        mn: device code of the refused frame.
        cn: command code of the refused frame.
        datatime: the frame's DataTime, ``None`` when it had none.
        last: DataTime of the last frame accepted from the device for that command.
    """

    def __init__(
        self,
        message: str,
        *,
        mn: str,
        cn: str,
        datatime: datetime | None = None,
        last: datetime | None = None,
    ) -> None:
        super().__init__(message)
        self.mn = mn
        self.cn = cn
        self.datatime = datatime
        self.last = last


class MissingDataTimeError(FrameRejectedError):
    """Raised when a data frame (CN 2011/2051/2061/2031) carries no DataTime."""


class ReplayedFrameError(FrameRejectedError):
    """Raised when a data frame repeats the DataTime of the device's last accepted frame."""


class OutOfOrderFrameError(FrameRejectedError):
    """Raised when a data frame is older than the device's last accepted frame."""


# --- signed readings -----------------------------------------------------------------------


class ReadingValueError(OracleError, ValueError):
    """Raised when a reading field does not fit its EIP-712 type: bad address, code, unit, flag or range."""


class ReadingSignatureError(OracleError, ValueError):
    """Raised when a reading's signature is malformed, does not recover, or names another device."""


class ReadingDigestMismatchError(ReadingSignatureError):
    """Raised when a signed reading's stored digest is not the digest of its fields under the domain."""


class ReadingReplayError(OracleError, ValueError):
    """Raised when a device sends a sequence number at or below the last one accepted from it."""


class DeviceKeyError(OracleError, ValueError):
    """Raised when a device key cannot be loaded: bad length or scalar, missing keystore, bad password."""


# --- store-and-forward queue ---------------------------------------------------------------


class QueueError(OracleError):
    """Base class of errors raised by the durable store-and-forward queue."""


class QueueValueError(QueueError, ValueError):
    """Raised when an argument or a reading does not fit the queue (e.g. a sequence >= 2**63)."""


class ReadingDuplicateError(QueueError, ValueError):
    """Raised when appended readings repeat a stored (device, sequence); the other readings are stored.

    Attributes:
        duplicates: ``(device, sequence)`` of each refused reading, in input order.
        stored: how many readings of the same call were stored.
    """

    def __init__(self, message: str, *, duplicates: tuple[tuple[str, int], ...], stored: int) -> None:
        super().__init__(message)
        self.duplicates = duplicates
        self.stored = stored


class FrameAlreadyStoredError(QueueError, ValueError):
    """Raised when a frame (device code, command, DataTime) was stored before: a device re-sent it.

    Nothing of the call is stored. The gateway answers the device (its data is safe) and counts
    the re-send.
    """


class BatchNotFoundError(QueueError, KeyError):
    """Raised when no batch has the given batch id."""


class BatchStateError(QueueError, ValueError):
    """Raised when a batch status change conflicts with its record (e.g. anchored by another tx)."""


class ReadingRowNotFoundError(QueueError, KeyError):
    """Raised when a reading row id names no row of the queue."""


class ReadingNotBatchedError(QueueError, LookupError):
    """Raised when a proof is asked for a reading that is not yet cut into a batch."""


class QuotaConfigError(QuotaError, ValueError):
    """Raised when a quota controller is set up wrongly: duplicate quotas or bad thresholds."""


# --- controller simulator ------------------------------------------------------------------


class SimulatorConfigError(OracleError, ValueError):
    """Raised when a virtual controller or simulation is set up wrongly (MN, scale, rate, start)."""


class SimulationStateError(OracleError, RuntimeError):
    """Raised when a simulation is started twice or after it was stopped."""


# --- gateway and anchoring ------------------------------------------------------------------


class GatewayError(OracleError):
    """Base class of errors raised by the oracle gateway's frame path and its anchoring loop."""


class UnknownDeviceError(GatewayError, LookupError):
    """Raised when a frame's device code (MN) is not one of the gateway's configured devices."""


class UnregisteredDeviceError(GatewayError, PermissionError):
    """Raised when a device's address is not registered on-chain as any enterprise's device."""


class ForeignDeviceError(GatewayError, PermissionError):
    """Raised when a device is bound on-chain to another enterprise than the one it reports for."""


class GatewayConfigError(GatewayError, ValueError):
    """Raised when the gateway's settings or device list are unusable (missing keystore, bad port)."""


class FieldAlarmError(GatewayError):
    """Base class of errors of the site's field alarms (limits, facility rules, their store)."""


class FieldConfigError(FieldAlarmError, ValueError):
    """Raised for unusable field-alarm settings: a limit not above zero, a maintenance allowance
    not positive, a limit for a device the site does not have."""


class FieldStoreError(FieldAlarmError, OSError):
    """Raised when the field store (alarm outbox, tamper baseline, review marks) cannot be read
    or written."""


class FrameRefusedError(GatewayError):
    """Base class of frames the gateway refuses unanswered (the device keeps and re-sends them):
    nothing of them is stored, signed or counted by quality control."""


class FramePasswordError(FrameRefusedError, PermissionError):
    """Raised when a frame's access password (``PW``) is not its device's (compared in constant time)."""


class FrameFromFutureError(FrameRefusedError, ValueError):
    """Raised when a frame's DataTime lies further ahead of the gateway's clock than the tolerance."""


class DeviceBlockedError(FrameRefusedError, PermissionError):
    """Raised for a frame of a device the gateway cannot sign for (its sequence numbers are
    used up on-chain): the device's frames wait on the controller until an operator acts."""


# --- back-fill (history requests) -----------------------------------------------------------


class HistoryError(GatewayError):
    """Base class of errors of the back-fill exchange (HJ 212-2017 history requests and answers)."""


class HistoryRequestError(HistoryError, ValueError):
    """Raised for an unusable history request: unknown device, a command code that is not
    minute, hourly or daily data, or a window whose end is before its beginning."""


class HistoryWindowError(HistoryError, ValueError):
    """Raised for a history answer whose DataTime lies outside the window it was asked for."""


class HistoryLimitError(HistoryError, RuntimeError):
    """Raised when a device already has as many open gaps or requests as the gateway keeps."""


class ValveOrderError(OracleError, ValueError):
    """Raised when a valve order (the regulator's signed close/reopen) is refused; nothing is sent."""


class ValveOrderSignatureError(ValveOrderError):
    """Raised when a valve order's signature is malformed or does not recover its regulator."""


class ValveOrderNotRegulatorError(ValveOrderError):
    """Raised when a valve order's signer is not an active REGULATOR of the registry."""


class ValveOrderExpiredError(ValveOrderError):
    """Raised when a valve order arrives after its expiry."""


class ValveOrderReplayedError(ValveOrderError):
    """Raised when a valve order's (regulator, nonce) was executed before."""


class ValveOrderDeviceError(ValveOrderError):
    """Raised when a valve order names a device code this gateway does not serve."""
