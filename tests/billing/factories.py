"""Billing rows the tests share, written through the ORM."""

from __future__ import annotations

from backend.billing.models import BillingProvider


def billing_provider() -> BillingProvider:
    """The clinic's default billing provider: a valid NPI (check digit), EIN, taxonomy and ZIP+4."""
    return BillingProvider(
        name="Harbor Behavioral Health",
        npi="1555555550",
        tax_id="123456789",
        taxonomy="261QM0801X",
        address_line1="12 Harbor St",
        city="Portland",
        state="ME",
        postal_code="041011234",
        contact_phone="2075550100",
        is_default=True,
    )
