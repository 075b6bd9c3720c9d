"""42 CFR Part 2 in billing: SUD information reaches a payer only under a consent for payment, with the
2.32 notice on the claim, and each claim sent is a disclosure in the member's accounting."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.billing.clearinghouse import FileDropClearinghouse
from backend.billing.engine import SESSION_CLOSED, produce_claims
from backend.billing.models import BillingDecision, Claim
from backend.billing.payer_rules import PayerRules
from backend.billing.submission import submit_ready_claims
from backend.billing.x12.validation import pyx12_errors
from backend.clients.models import Authorization
from backend.compliance.disclosures.models import DisclosureRow
from backend.compliance.disclosures.rules import SHORT_NOTICE
from backend.compliance.part2.consents import RecipientKind
from backend.compliance.part2.models import Consent, ConsentRecipient
from backend.database import Database, utcnow
from backend.documentation.models import SessionRecord
from backend.documentation.signoff import RecordStatus
from backend.enrollment.models import Enrollment, EnrollmentStatus
from backend.settings import Settings
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from backend.workers.outbox import OutboxMessage, process
from tests.billing.closed_sessions import Seeded, seed_closed_sessions
from tests.support import GraphQLClient, make_account
from tests.test_group_lifecycle import ContractClient
from tests.waitlist.factories import make_program

RULES = PayerRules(fee_schedule={"90853": Decimal("60.00")})


def _consent(
    session: Session, client_id: uuid.UUID, recipient: ConsentRecipient, purposes: list[str]
) -> uuid.UUID:
    consent = Consent(
        id=uuid.uuid4(),
        client_id=client_id,
        purposes=purposes,
        categories=["all"],
        starts_at=utcnow() - timedelta(days=30),
        ends_at=utcnow() + timedelta(days=365),
        recorded_by=uuid.uuid4(),
    )
    session.add(consent)
    session.flush()
    recipient.consent_id = consent.id
    session.add(recipient)
    return consent.id


def _tpo_consent(session: Session, client_id: uuid.UUID) -> uuid.UUID:
    """A 2024-rule consent: treatment, payment and operations, to any recipient acting for them."""
    return _consent(
        session,
        client_id,
        ConsentRecipient(kind=RecipientKind.TPO, recipient_id=None),
        ["treatment", "payment", "operations"],
    )


def _decisions(session: Session, seeded: Seeded, session_id: uuid.UUID) -> list[tuple[bool, tuple[str, ...]]]:
    by_member = {
        d.client_id: (d.billed, tuple(r["code"] for r in d.reasons))
        for d in session.scalars(select(BillingDecision).where(BillingDecision.session_id == session_id))
    }
    return [by_member[m] for m in seeded.members]


def _sent(tmp_path: Path) -> str:
    (batch,) = (tmp_path / "outbox").iterdir()
    return batch.read_text()


def test_a_part2_session_bills_only_members_whose_consent_lets_the_payer_receive_it(
    database: Database, make_clinic: Callable[..., Tenant], tmp_path: Path
) -> None:
    """Consent for payment by the payer: billed, 837P with the notice, a disclosure; consent to a program
    for treatment only, or none: not billed, decision no_part2_consent."""
    clinic = make_clinic()
    with tenant_session(database.engine, clinic.schema_name) as session:
        seeded = seed_closed_sessions(session, RULES, part2=True)
        payer_consent = _consent(
            session,
            seeded.members[0],
            ConsentRecipient(kind=RecipientKind.PAYER, recipient_id=seeded.payer),
            ["payment"],
        )
        _consent(
            session,
            seeded.members[1],
            ConsentRecipient(kind=RecipientKind.PROGRAM, recipient_id=seeded.program),
            ["treatment"],
        )
    day_two = seeded.closed[2]
    with tenant_session(database.engine, clinic.schema_name) as session:
        produce_claims(session, day_two)
        assert _decisions(session, seeded, day_two) == [
            (True, ("eligibility_unknown",)),
            (False, ("eligibility_unknown", "no_part2_consent")),
            (False, ("eligibility_unknown", "no_part2_consent")),
        ]
    with tenant_session(database.engine, clinic.schema_name) as session:
        (batch,) = submit_ready_claims(session, FileDropClearinghouse(tmp_path))
        assert batch.claim_count == 1
        disclosures = list(session.scalars(select(DisclosureRow)))
    x12 = _sent(tmp_path)
    assert f"NTE*ADD*{SHORT_NOTICE}~" in x12
    assert pyx12_errors(x12) == []
    assert [(d.client_id, d.recipient_id, d.consent_id, d.purpose, d.channel) for d in disclosures] == [
        (seeded.members[0], seeded.payer, payer_consent, "payment", "claim")
    ]


def test_a_consent_revoked_after_the_claim_was_made_stops_it_from_being_sent(
    database: Database, make_clinic: Callable[..., Tenant], tmp_path: Path
) -> None:
    """Revocation between claim and batch: the claim is withdrawn (never sent, its authorization use
    given back), the decision says no_part2_consent and nothing is disclosed."""
    clinic = make_clinic()
    with tenant_session(database.engine, clinic.schema_name) as session:
        seeded = seed_closed_sessions(session, RULES, part2=True)
        consent = _tpo_consent(session, seeded.members[0])
    day_two = seeded.closed[2]
    with tenant_session(database.engine, clinic.schema_name) as session:
        produce_claims(session, day_two)
        assert session.get_one(Authorization, seeded.authorization).sessions_used == 5
        session.execute(update(Consent).where(Consent.id == consent).values(revoked_at=utcnow()))
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert submit_ready_claims(session, FileDropClearinghouse(tmp_path)) == []
        assert session.scalars(select(Claim)).all() == []
        assert session.get_one(Authorization, seeded.authorization).sessions_used == 4
        assert _decisions(session, seeded, day_two)[0] == (False, ("no_part2_consent",))
        assert session.scalars(select(DisclosureRow)).all() == []
    assert list((tmp_path / "outbox").iterdir()) == []


def test_a_biller_rebills_the_session_once_a_new_consent_is_recorded(
    graphql: GraphQLClient,
    database: Database,
    settings: Settings,
    make_clinic: Callable[..., Tenant],
    tmp_path: Path,
) -> None:
    """`rebillSession` decides the final session again: the member now consenting gets their claim and
    it is sent under the new consent; members billed before keep their one claim each."""
    clinic = make_clinic()
    biller = make_account(database, settings, clinic, ["biller"])
    with tenant_session(database.engine, clinic.schema_name) as session:
        seeded = seed_closed_sessions(session, RULES, part2=True)
        _tpo_consent(session, seeded.members[1])
    day_two = seeded.closed[2]
    with tenant_session(database.engine, clinic.schema_name) as session:
        produce_claims(session, day_two)
        assert [billed for billed, _ in _decisions(session, seeded, day_two)] == [False, True, False]
        consent = _tpo_consent(session, seeded.members[0])

    api = ContractClient(graphql, biller)
    queued = api.run("RebillSession", "billing.graphql", sessionId=str(day_two))["rebillSession"]
    assert queued == {"__typename": "WorkQueued", "kind": SESSION_CLOSED}
    with tenant_session(database.engine, clinic.schema_name) as session:
        row = session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.kind == SESSION_CLOSED)
            .order_by(OutboxMessage.created_at.desc())
            .limit(1)
        ).one()
        assert process(session, row)
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert [billed for billed, _ in _decisions(session, seeded, day_two)] == [True, True, False]
        claims = session.scalars(select(Claim.client_id).where(Claim.session_id == day_two))
        assert sorted(claims) == sorted(seeded.members[:2])
        submit_ready_claims(session, FileDropClearinghouse(tmp_path))
        sent_under = {d.client_id: d.consent_id for d in session.scalars(select(DisclosureRow))}
    assert sent_under[seeded.members[0]] == consent

    unknown = api.run("RebillSession", "billing.graphql", sessionId=str(uuid.uuid4()))["rebillSession"]
    assert unknown["__typename"] == "NotFound"
    with tenant_session(database.engine, clinic.schema_name) as session:
        session.execute(
            update(SessionRecord).where(SessionRecord.session_id == day_two).values(status=RecordStatus.DRAFT)
        )
        queued_before = session.scalar(select(func.count()).select_from(OutboxMessage))
    draft = api.run("RebillSession", "billing.graphql", sessionId=str(day_two))["rebillSession"]
    assert draft["__typename"] == "InvalidInput"
    assert [(e["field"], e["code"]) for e in draft["errors"]] == [("sessionId", "not_final")]
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == queued_before


def _enroll_in_an_sud_program(session: Session, seeded: Seeded) -> None:
    """The members also attend the clinic's (Part 2) SUD program."""
    sud = make_program(session, name="SUD IOP", telehealth=False, part2=True)
    for member in seeded.members:
        session.add(
            Enrollment(
                program_id=sud.id,
                client_id=member,
                status=EnrollmentStatus.ACTIVE,
                starts_on=sud.starts_on,
            )
        )


def test_an_sud_diagnosis_is_part2_information_only_for_a_member_a_part2_program_treats(
    database: Database, make_clinic: Callable[..., Tenant], tmp_path: Path
) -> None:
    """F10.20 on a process-group claim needs a consent when the member is in the clinic's SUD program
    (the diagnosis is that program's record); otherwise it is an ordinary claim with no notice."""
    in_sud_program, elsewhere = make_clinic(), make_clinic()
    with tenant_session(database.engine, in_sud_program.schema_name) as session:
        treated = seed_closed_sessions(session, RULES, diagnosis="F10.20")
        _enroll_in_an_sud_program(session, treated)
    with tenant_session(database.engine, elsewhere.schema_name) as session:
        untreated = seed_closed_sessions(session, RULES, diagnosis="F10.20")
    with tenant_session(database.engine, in_sud_program.schema_name) as session:
        produce_claims(session, treated.closed[2])
        assert {reasons for _, reasons in _decisions(session, treated, treated.closed[2])} == {
            ("eligibility_unknown", "no_part2_consent")
        }
    with tenant_session(database.engine, elsewhere.schema_name) as session:
        produce_claims(session, untreated.closed[2])
        (batch,) = submit_ready_claims(session, FileDropClearinghouse(tmp_path))
        assert batch.claim_count == 3
        assert session.scalars(select(DisclosureRow)).all() == []
    assert "NTE*" not in _sent(tmp_path)
