"""National Provider Identifier check (pure): 10 digits, the last a Luhn check digit.

CMS: the check digit is the Luhn (mod 10, double-add-double) digit computed over the prefix "80840"
(the card issuer identifier for US health applications) followed by the first nine NPI digits.
"""

from __future__ import annotations

PREFIX = "80840"


def npi_check_digit(first_nine: str) -> int:
    """The Luhn check digit of "80840" + the first nine digits."""
    total = 0
    # Walking from the right of the payload, every second digit (starting with the rightmost) doubles.
    for i, char in enumerate(reversed(PREFIX + first_nine)):
        digit = int(char)
        if i % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def is_valid_npi(value: str) -> bool:
    return (
        len(value) == 10
        and value.isascii()
        and value.isdigit()
        and npi_check_digit(value[:9]) == int(value[9])
    )
