"""The offer worker: a freed place goes to the top-ranked candidate, once, with notifications."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.database import Database, utcnow
from backend.enrollment.models import EnrollmentStatus
from backend.notifications.models import Notification
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from backend.waitlist.models import WaitlistEntry
from backend.waitlist.offers import OFFER_HOURS, SLOT_OPENED, contact_channel
from backend.waitlist.rules import Urgency, WaitlistStatus
from backend.workers.outbox import OutboxMessage, add_message, process, registered_kinds
from tests.waitlist.factories import make_client, make_entry, make_member, make_program


def _slot_opened(database: Database, schema: str, program_id: uuid.UUID) -> uuid.UUID:
    with tenant_session(database.engine, schema) as session:
        return add_message(session, SLOT_OPENED, {"program_id": program_id}).id


def _process(database: Database, schema: str, outbox_id: uuid.UUID) -> bool:
    with tenant_session(database.engine, schema) as session:
        return process(session, outbox_id)


def _entries(session: Session) -> dict[uuid.UUID, WaitlistEntry]:
    return {e.id: e for e in session.scalars(select(WaitlistEntry))}


def _full_program_with_a_graduation(session: Session) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """Capacity 2, one active member and one who just graduated; two waiting: urgent and routine."""
    program = make_program(session, capacity=2, fit_criteria={"diagnoses": ["F33"]})
    make_member(session, program)
    make_member(session, program, status=EnrollmentStatus.GRADUATED)
    urgent = make_entry(
        session,
        program,
        make_client(session, email="ola@example.test", name="Ola"),
        urgency=Urgency.URGENT,
        diagnoses=["F33.1"],
        referrer_name="Dr. Lee",
        referrer_contact="lee@referrer.test",
    )
    routine = make_entry(
        session, program, make_client(session, email="kim@example.test"), diagnoses=["F33.1"]
    )
    return program.id, urgent.id, routine.id


def test_graduation_offers_the_place_to_the_top_candidate_and_notifies_client_and_referrer(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """The urgent candidate is OFFERED for 72 hours; client and referrer get PHI-free notices."""
    clinic = make_clinic()
    with tenant_session(database.engine, clinic.schema_name) as session:
        program_id, urgent_id, routine_id = _full_program_with_a_graduation(session)
    assert _process(database, clinic.schema_name, _slot_opened(database, clinic.schema_name, program_id))
    with tenant_session(database.engine, clinic.schema_name) as session:
        entries = _entries(session)
        notifications = session.scalars(select(Notification)).all()
    offered = entries[urgent_id]
    assert offered.status == WaitlistStatus.OFFERED and offered.offered_at is not None
    assert offered.offer_expires_at == offered.offered_at + timedelta(hours=OFFER_HOURS)
    assert entries[routine_id].status == WaitlistStatus.WAITING
    by_recipient = {n.recipient: n for n in notifications}
    assert set(by_recipient) == {"ola@example.test", "lee@referrer.test"}
    for notification in notifications:
        for phi in ("Ola", "Berg", "F33", "Evening skills", "Dr. Lee"):
            assert phi not in notification.body
    assert urgent_id.hex[:8].upper() in by_recipient["lee@referrer.test"].body


def test_processing_twice_or_a_second_row_makes_one_offer(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """A redelivered row is a no-op and a second slot_opened finds the place reserved."""
    clinic = make_clinic()
    with tenant_session(database.engine, clinic.schema_name) as session:
        program_id, _, _ = _full_program_with_a_graduation(session)
    first = _slot_opened(database, clinic.schema_name, program_id)
    assert _process(database, clinic.schema_name, first)
    assert not _process(database, clinic.schema_name, first)
    assert _process(database, clinic.schema_name, _slot_opened(database, clinic.schema_name, program_id))
    with tenant_session(database.engine, clinic.schema_name) as session:
        statuses = [e.status for e in _entries(session).values()]
        notices = session.scalars(select(Notification)).all()
        outbox = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == SLOT_OPENED)).all()
    assert sorted(statuses) == [WaitlistStatus.OFFERED, WaitlistStatus.WAITING]
    assert len(notices) == 2 and all(m.processed_at is not None for m in outbox)


def test_a_full_program_makes_no_offer(database: Database, make_clinic: Callable[..., Tenant]) -> None:
    """With every place held by an active member nothing is offered."""
    clinic = make_clinic()
    with tenant_session(database.engine, clinic.schema_name) as session:
        program = make_program(session, capacity=1)
        make_member(session, program)
        entry_id = make_entry(session, program).id
    _process(database, clinic.schema_name, _slot_opened(database, clinic.schema_name, program.id))
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.get_one(WaitlistEntry, entry_id).status == WaitlistStatus.WAITING


def test_blocked_candidates_are_passed_over(database: Database, make_clinic: Callable[..., Tenant]) -> None:
    """A contraindicated urgent client is skipped; the eligible routine one gets the offer."""
    clinic = make_clinic()
    with tenant_session(database.engine, clinic.schema_name) as session:
        program = make_program(session, capacity=3)
        blocked = make_entry(session, program, urgency=Urgency.URGENT, contraindications=["active_psychosis"])
        eligible = make_entry(session, program)
    _process(database, clinic.schema_name, _slot_opened(database, clinic.schema_name, program.id))
    with tenant_session(database.engine, clinic.schema_name) as session:
        entries = _entries(session)
    assert entries[blocked.id].status == WaitlistStatus.WAITING
    assert entries[eligible.id].status == WaitlistStatus.OFFERED


def test_an_expired_offer_goes_back_to_waiting_and_the_next_candidate_is_offered(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """The lapsed entry keeps its date added, is stamped, and is passed over for this place."""
    clinic = make_clinic()
    lapsed_at = utcnow() - timedelta(hours=1)
    with tenant_session(database.engine, clinic.schema_name) as session:
        program = make_program(session, capacity=1)
        lapsed = make_entry(
            session,
            program,
            urgency=Urgency.URGENT,
            status=WaitlistStatus.OFFERED,
            offered_at=lapsed_at - timedelta(hours=OFFER_HOURS),
            offer_expires_at=lapsed_at,
        )
        nxt = make_entry(session, program)
    _process(database, clinic.schema_name, _slot_opened(database, clinic.schema_name, program.id))
    with tenant_session(database.engine, clinic.schema_name) as session:
        entries = _entries(session)
    assert entries[lapsed.id].status == WaitlistStatus.WAITING
    assert entries[lapsed.id].last_offer_expired_at is not None
    assert entries[lapsed.id].added_on == lapsed.added_on and entries[lapsed.id].offer_expires_at is None
    assert entries[nxt.id].status == WaitlistStatus.OFFERED


def test_no_email_and_no_referrer_contact_queue_no_notification(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """An offer to a client without email and without referrer contact notifies nobody."""
    clinic = make_clinic()
    with tenant_session(database.engine, clinic.schema_name) as session:
        program = make_program(session, capacity=1)
        entry_id = make_entry(session, program, referrer_contact="call the front desk").id
    _process(database, clinic.schema_name, _slot_opened(database, clinic.schema_name, program.id))
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.get_one(WaitlistEntry, entry_id).status == WaitlistStatus.OFFERED
        assert session.scalars(select(Notification)).all() == []


def test_two_slot_rows_processed_at_once_make_one_offer_for_one_place(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """Concurrent workers serialize on the program row: one open place, one offer, one notice."""
    clinic = make_clinic()
    with tenant_session(database.engine, clinic.schema_name) as session:
        program = make_program(session, capacity=1)
        for i in range(3):
            make_entry(session, program, make_client(session, email=f"c{i}@example.test"))
    rows = [_slot_opened(database, clinic.schema_name, program.id) for _ in range(2)]
    barrier = threading.Barrier(2)

    def work(outbox_id: uuid.UUID) -> None:
        barrier.wait()
        _process(database, clinic.schema_name, outbox_id)

    threads = [threading.Thread(target=work, args=(row,)) for row in rows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with tenant_session(database.engine, clinic.schema_name) as session:
        statuses = [e.status for e in _entries(session).values()]
        notices = session.scalars(select(Notification)).all()
    assert statuses.count(WaitlistStatus.OFFERED) == 1 and len(notices) == 1


def test_the_outbox_knows_the_slot_opened_kind() -> None:
    """The handler module is registered, so a worker can process the enrollment flow's rows."""
    assert SLOT_OPENED in registered_kinds()


def test_referrer_contact_chooses_email_or_sms() -> None:
    """An email address goes by email, a phone number by SMS, free text nowhere."""
    assert contact_channel("lee@referrer.test") == "email"
    assert contact_channel("+1 (555) 010-2000") == "sms"
    assert contact_channel("ask Dr. Lee") is None and contact_channel(None) is None
