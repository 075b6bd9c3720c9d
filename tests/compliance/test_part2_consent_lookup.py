"""Consents read back from the database and matched: the claim engine's payment lookup (sync) and the
reads' lookup (async)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from backend.billing.part2_payment import payment_consent
from backend.compliance.part2.consent_store import load_consents, load_consents_sync
from backend.compliance.part2.consents import Category, Purpose, Recipient, RecipientKind, covering_consent
from backend.compliance.part2.models import Consent, ConsentRecipient
from backend.database import Database
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_async_session, tenant_session
from tests.documentation.test_privacy_matrix import add_client

NOW = datetime.now(UTC)
PAYER = Recipient(RecipientKind.PAYER, uuid.uuid4())


def store_consent(
    database: Database, clinic: Tenant, client_id: uuid.UUID, recipients: list[Recipient], **values: object
) -> uuid.UUID:
    with tenant_session(database.engine, clinic.schema_name) as session:
        consent = Consent(
            id=uuid.uuid4(),
            client_id=client_id,
            purposes=values.pop("purposes", ["payment"]),
            categories=values.pop("categories", ["all"]),
            starts_at=NOW - timedelta(days=10),
            end_event="end of treatment",
            recorded_by=uuid.uuid4(),
            **values,
        )
        session.add(consent)
        session.flush()
        for r in recipients:
            session.add(ConsentRecipient(consent_id=consent.id, kind=r.kind, recipient_id=r.id))
        return consent.id


def test_a_billing_worker_finds_the_payment_consent_naming_its_payer(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """A live payment consent naming the payer is found; for another payer or for treatment it is not."""
    clinic = make_clinic()
    with tenant_session(database.engine, clinic.schema_name) as session:
        member = add_client(session, "Ana", "Reyes")
    consent_id = store_consent(database, clinic, member, [PAYER])
    other = Recipient(RecipientKind.PAYER, uuid.uuid4())
    with tenant_session(database.engine, clinic.schema_name) as session:
        consents = load_consents_sync(session, [member])
    diagnoses = frozenset({Category.DIAGNOSES})
    found = payment_consent(consents, PAYER.id, diagnoses, NOW)
    assert found is not None and found.id == consent_id and found.recipients == (PAYER,)
    assert payment_consent(consents, other.id, diagnoses, NOW) is None
    assert covering_consent(consents, PAYER, Purpose.TREATMENT, Category.DIAGNOSES, NOW) is None


def test_a_revoked_consent_is_never_found_and_a_tpo_one_serves_any_payer(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """Revoked: no consent for the payer; a TPO consent then covers payment by any payer (async lookup)."""
    clinic = make_clinic()
    with tenant_session(database.engine, clinic.schema_name) as session:
        member = add_client(session, "Ana", "Reyes")
    store_consent(database, clinic, member, [PAYER], revoked_at=NOW - timedelta(days=1))

    async def lookup() -> tuple[object, object]:
        engine = create_async_engine(database.url, poolclass=NullPool)
        try:
            async with tenant_async_session(engine, clinic.schema_name) as session:
                before = covering_consent(
                    await load_consents(session, [member]), PAYER, Purpose.PAYMENT, Category.ALL, NOW
                )
                store_consent(
                    database,
                    clinic,
                    member,
                    [Recipient(RecipientKind.TPO, None)],
                    purposes=["treatment", "payment", "operations"],
                )
                after = covering_consent(
                    await load_consents(session, [member]), PAYER, Purpose.PAYMENT, Category.ALL, NOW
                )
                return before, after
        finally:
            await engine.dispose()

    before, after = asyncio.run(lookup())
    assert before is None
    assert after is not None and getattr(after, "recipients", None) == (Recipient(RecipientKind.TPO, None),)
