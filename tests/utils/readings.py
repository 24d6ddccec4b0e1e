"""Factories for reading tests: device keys and signers, frames of signed readings, strategies."""

from __future__ import annotations

from datetime import datetime

from hypothesis import strategies as st

from oracle.hj212 import CN_CARD_SWIPE, CN_MINUTE_DATA, Frame, encode, parse
from oracle.signing.eip712 import ReadingDomain
from oracle.signing.hashing import keccak
from oracle.signing.proof import SignedFrame
from oracle.signing.reading import DATA_FLAGS, Reading, ReadingFields
from oracle.signing.signer import DeviceSigner

#: The domain most tests sign under: Anvil's chain id and its first deployment address.
DOMAIN = ReadingDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
#: The eight factors of a typical wastewater / flue-gas frame, with their units.
FRAME_FACTORS: tuple[tuple[str, str], ...] = (
    ("w01018", "mg/L"),  # COD
    ("w21003", "mg/L"),  # ammonia nitrogen
    ("w01001", "pH"),
    ("w00000", "L/s"),  # flow
    ("a21026", "mg/m3"),  # SO2
    ("a21002", "mg/m3"),  # NOx
    ("a34013", "mg/m3"),  # particulates
    ("a21026", "kg"),  # SO2 amount
)
BASE_TIME = 1_700_000_000


def device_key(seed: int) -> bytes:
    """A valid secp256k1 private key, different for each seed."""
    return keccak(b"ets-test-device-%d" % seed)


def signer(seed: int = 0, *, next_sequence: int = 1, domain: ReadingDomain = DOMAIN) -> DeviceSigner:
    """A device signer with the key of ``seed``."""
    return DeviceSigner(device_key(seed), domain, next_sequence=next_sequence)


def frame(device: DeviceSigner, time: int = BASE_TIME, *, size: int = 8, base: int = 0) -> list[SignedFrame]:
    """One HJ 212 frame's worth of readings (``size`` factors at one time), each signed as a
    frame of its own (see :func:`signed_frame` for the gateway's one signature per frame)."""
    return [
        device.sign(
            time=time,
            pollutant=FRAME_FACTORS[i % len(FRAME_FACTORS)][0],
            value=base + 1000 * i + 345,
            decimals=i % 4,
            unit=FRAME_FACTORS[i % len(FRAME_FACTORS)][1],
        )
        for i in range(size)
    ]


def frame_fields(time: int = BASE_TIME, *, size: int = 8, base: int = 0) -> list[ReadingFields]:
    """The fields of one HJ 212 frame's readings (``size`` factors at one time), unnumbered."""
    return [
        ReadingFields(
            time,
            FRAME_FACTORS[i % len(FRAME_FACTORS)][0],
            base + 1000 * i + 345,
            i % 4,
            FRAME_FACTORS[i % len(FRAME_FACTORS)][1],
        )
        for i in range(size)
    ]


def signed_frame(device: DeviceSigner, time: int = BASE_TIME, *, size: int = 8, base: int = 0) -> SignedFrame:
    """One HJ 212 frame's readings signed together (one signature), as a gateway signs them."""
    return device.sign_frame(frame_fields(time, size=size, base=base))


# --- strategies ------------------------------------------------------------------------------

_PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)

addresses = st.binary(min_size=20, max_size=20).map(lambda raw: "0x" + raw.hex())
uint64s = st.integers(min_value=0, max_value=2**64 - 1)
int256s = st.one_of(
    st.integers(min_value=-(2**255), max_value=2**255 - 1),
    st.integers(min_value=-(10**9), max_value=10**9),
)
pollutants = st.one_of(
    st.sampled_from([f for f, _ in FRAME_FACTORS] + ["B01", "001", "w01018xx"]),
    st.text(_PRINTABLE, min_size=1, max_size=8),
)
units = st.one_of(st.sampled_from(["mg/L", "kg", "m3", "mg/m3", "L/s", ""]), st.text(_PRINTABLE, max_size=8))
flags = st.sampled_from(sorted(DATA_FLAGS))
readings = st.builds(
    Reading,
    device=addresses,
    sequence=uint64s,
    time=uint64s,
    pollutant=pollutants,
    value=int256s,
    decimals=st.integers(min_value=0, max_value=255),
    unit=units,
    flag=flags,
)
reading_fields = st.builds(
    ReadingFields,
    time=uint64s,
    pollutant=pollutants,
    value=int256s,
    decimals=st.integers(min_value=0, max_value=255),
    unit=units,
    flag=flags,
)
domains = st.builds(
    ReadingDomain,
    chain_id=st.one_of(st.integers(min_value=0, max_value=2**256 - 1), st.sampled_from([1, 31337, 1337])),
    verifying_contract=addresses,
)


# --- HJ 212 frames ---------------------------------------------------------------------------

#: A wastewater minute frame's factors: (code, Avg text, Cou text or None).
WASTEWATER_MINUTE: tuple[tuple[str, str, str | None], ...] = (
    ("w00000", "12.50", "750.0"),  # flow L/s, m3 in the minute
    ("w01018", "35.2", "26.400"),  # COD mg/L, kg
    ("w21003", "2.15", "1.613"),  # NH3-N
    ("w01001", "7.21", None),  # pH
)


def device_password(mn: str) -> str:
    """The test controller ``mn``'s own HJ 212 access password (``PW``)."""
    return f"pw{mn[-6:]}"


def minute_frame(
    mn: str,
    when: datetime,
    *,
    factors: tuple[tuple[str, str, str | None], ...] = WASTEWATER_MINUTE,
    flag: str = "N",
    qn: str | None = None,
    pw: str | None = None,
) -> Frame:
    """A parsed HJ 212-2017 minute-data frame (CN=2051) that asks for an answer, carrying the
    device's password (:func:`device_password`) unless ``pw`` is given."""
    values = {
        code: {"Avg": avg, "Min": avg, "Max": avg, "Flag": flag} | ({"Cou": cou} if cou is not None else {})
        for code, avg, cou in factors
    }
    text = encode(
        st="32", cn=CN_MINUTE_DATA, pw=pw or device_password(mn), mn=mn, qn=qn or f"{when:%Y%m%d%H%M%S}000",
        flag=5, datatime=when, values=values,
    )  # fmt: skip
    return parse(text)


def swipe_frame(mn: str, when: datetime, card: str) -> Frame:
    """A parsed card-swipe event frame (with the device's password)."""
    text = encode(
        st="32", cn=CN_CARD_SWIPE, pw=device_password(mn), mn=mn, qn=f"{when:%Y%m%d%H%M%S}001", flag=5,
        datatime=when, extras={"CardId": card},
    )  # fmt: skip
    return parse(text)
