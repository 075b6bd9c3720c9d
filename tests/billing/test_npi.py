"""NPI check digits: the Luhn digit over "80840" + the first nine digits."""

from __future__ import annotations

import pytest

from backend.billing.npi import is_valid_npi


@pytest.mark.parametrize("npi", ["1234567893", "1987654328", "1555555550", "2453198709"])
def test_npis_with_a_correct_check_digit_are_valid(npi: str) -> None:
    """CMS's example and the made-up NPIs of the X12 samples pass."""
    assert is_valid_npi(npi)


@pytest.mark.parametrize("npi", ["1234567890", "123456789", "12345678931", "123456789X", ""])
def test_a_wrong_check_digit_length_or_character_is_invalid(npi: str) -> None:
    """One digit off, too short or long, or a letter: invalid."""
    assert not is_valid_npi(npi)


def test_non_ascii_digits_are_invalid() -> None:
    """Full-width digits pass str.isdigit() but are not an NPI."""
    assert not is_valid_npi("".join(chr(0xFF10 + int(d)) for d in "1234567893"))
