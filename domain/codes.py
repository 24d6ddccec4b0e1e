"""Chinese registry codes: unified social credit code (GB 32100-2015), region (GB/T 2260),
industry (GB/T 4754) and HJ 212 MN codes — the same checks the ConsortiumRegistry makes on-chain."""

from __future__ import annotations

import re

from domain.errors import InvalidInputError

#: GB 32100-2015 character set: digits and capitals without I, O, S, V, Z; a character's value
#: is its index.
CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
#: Weight of position i (0-based) is 3**i mod 31.
CREDIT_CODE_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))

_INDUSTRY = re.compile(r"^[A-T](\d{2}|\d{3}|\d{4})?$")
_MN = re.compile(r"^[0-9A-Za-z]{1,24}$")


def credit_code_check_char(first17: str) -> str:
    """The check character (18th) for the first 17 characters of a credit code.

    Raises:
        InvalidInputError: wrong length or a character outside the GB 32100 set.
    """
    if len(first17) != 17:
        raise InvalidInputError(f"credit code body must be 17 characters, got {len(first17)}")
    total = 0
    for ch, weight in zip(first17, CREDIT_CODE_WEIGHTS, strict=True):
        value = CREDIT_CODE_CHARSET.find(ch)
        if value < 0:
            raise InvalidInputError(f"credit code character {ch!r} is not in the GB 32100 set")
        total += value * weight
    return CREDIT_CODE_CHARSET[(31 - total % 31) % 31]


def is_valid_credit_code(code: str) -> bool:
    """True if ``code`` is 18 GB 32100 characters with a correct check character."""
    if len(code) != 18:
        return False
    try:
        return credit_code_check_char(code[:17]) == code[17]
    except InvalidInputError:
        return False


def check_credit_code(code: str) -> str:
    """Return ``code`` if valid, else raise :class:`InvalidInputError` saying what is wrong."""
    if len(code) != 18:
        raise InvalidInputError(f"credit code {code!r} must be 18 characters, got {len(code)}")
    expected = credit_code_check_char(code[:17])
    if code[17] != expected:
        raise InvalidInputError(
            f"credit code {code!r} has check character {code[17]!r}, expected {expected!r}"
        )
    return code


def check_region_code(code: int) -> int:
    """Return a GB/T 2260 6-digit region code (province prefix 11..82), else raise."""
    if not 110000 <= code <= 829999:
        raise InvalidInputError(f"region code {code} is not a 6-digit GB/T 2260 code")
    return code


def check_industry_code(code: str) -> str:
    """Return a GB/T 4754 code (section letter A..T with 0, 2, 3 or 4 digits), else raise."""
    if not _INDUSTRY.match(code):
        raise InvalidInputError(f"industry code {code!r} is not a GB/T 4754 code (e.g. 'D4411')")
    return code


def check_mn(mn: str) -> str:
    """Return an HJ 212 MN code (1-24 letters/digits), else raise."""
    if not _MN.match(mn):
        raise InvalidInputError(f"MN code {mn!r} must be 1-24 letters or digits")
    return mn
