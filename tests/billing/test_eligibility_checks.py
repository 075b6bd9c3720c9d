"""Eligibility checks over real PostgreSQL: a 270 through the file-drop clearinghouse, the simulated payer's
271 back, and what it changes (the check's status, copay and limit; an administrative hold when inactive).

Member ids steer tests/billing/simulated_clearinghouse.py: INACTIVE... inactive, NOTFOUND... not found,
anything else active with a 25.00 copay and a 30-visit limit.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.billing.clearinghouse import FileDropClearinghouse, transaction_kind
from backend.billing.eligibility_checks import (
    CHECK_ELIGIBILITY,
    HOLD_REASON,
    CheckReason,
    apply_result,
    request_check,
    request_due_checks,
)
from backend.billing.models import ClaimFormat, EligibilityCheck, Payer
from backend.billing.submission import process_responses, use_clearinghouse
from backend.clients.models import Client, ClientCoverage
from backend.clients.rules import CoveragePriority
from backend.compliance.audit.events import AuditEvent
from backend.database import Database
from backend.enrollment.models import Enrollment, EnrollmentEvent, EnrollmentStatus
from backend.programs.models import LevelOfCare, Modality, Program, ProgramKind
from backend.settings import Settings
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from backend.workers.outbox import OutboxMessage, process
from tests.billing.factories import billing_provider
from tests.billing.simulated_clearinghouse import SimulatedClearinghouse
from tests.support import GraphQLClient, make_account


@dataclass
class Clinic:
    database: Database
    tenant: Tenant
    root: Path
    program_id: uuid.UUID = field(default_factory=uuid.uuid4)
    payer_id: uuid.UUID = field(default_factory=uuid.uuid4)
    clients: dict[str, uuid.UUID] = field(default_factory=dict)
    enrollments: dict[str, uuid.UUID] = field(default_factory=dict)

    def session(self) -> AbstractContextManager[Session]:
        return tenant_session(self.database.engine, self.tenant.schema_name)

    @property
    def drop(self) -> Path:
        return self.root / self.tenant.schema_name

    def member(
        self,
        label: str,
        member_id: str | None,
        *,
        payer: bool = True,
        status: EnrollmentStatus | None = EnrollmentStatus.ACTIVE,
    ) -> uuid.UUID:
        """A client with a primary coverage (`member_id`; None: no coverage), enrolled with `status`."""
        with self.session() as session:
            client = Client(
                id=uuid.uuid4(), first_name="Noor", last_name="Haddad", date_of_birth=date(1988, 11, 9)
            )
            session.add(client)
            session.flush()
            if member_id is not None:
                session.add(
                    ClientCoverage(
                        client_id=client.id,
                        priority=CoveragePriority.PRIMARY,
                        payer_name="Northwind Health",
                        member_id=member_id,
                        payer_id=self.payer_id if payer else None,
                    )
                )
            if status is not None:
                enrollment = Enrollment(
                    id=uuid.uuid4(),
                    program_id=self.program_id,
                    client_id=client.id,
                    status=status,
                    starts_on=date(2026, 1, 5),
                )
                session.add(enrollment)
                self.enrollments[label] = enrollment.id
        self.clients[label] = client.id
        return client.id

    def run_outbox(self) -> int:
        with self.session() as session:
            rows = list(
                session.scalars(
                    select(OutboxMessage.id).where(
                        OutboxMessage.kind == CHECK_ELIGIBILITY, OutboxMessage.processed_at.is_(None)
                    )
                )
            )
        for row_id in rows:
            with self.session() as session:
                assert process(session, row_id)
        return len(rows)

    def answer(self) -> None:
        """The payer answers every 270; we read the 271s and act on each updated check."""
        SimulatedClearinghouse(self.drop).process()
        with self.session() as session:
            process_responses(session, FileDropClearinghouse(self.drop))
        with self.session() as session:
            for check in session.scalars(
                select(EligibilityCheck).where(EligibilityCheck.status != "pending")
            ):
                apply_result(session, check)

    def checks(self, label: str) -> list[EligibilityCheck]:
        with self.session() as session:
            return list(
                session.scalars(
                    select(EligibilityCheck)
                    .where(EligibilityCheck.client_id == self.clients[label])
                    .order_by(EligibilityCheck.requested_at)
                )
            )

    def enrollment(self, label: str) -> tuple[Enrollment, list[EnrollmentEvent]]:
        with self.session() as session:
            enrollment = session.get_one(Enrollment, self.enrollments[label])
            events = list(
                session.scalars(select(EnrollmentEvent).where(EnrollmentEvent.enrollment_id == enrollment.id))
            )
        return enrollment, events


@pytest.fixture
def clinic(database: Database, make_clinic: Callable[..., Tenant], tmp_path: Path) -> Iterator[Clinic]:
    """A clinic with a default billing provider, one payer and an open program; 270s go to a tmp folder."""
    previous = use_clearinghouse(lambda schema: FileDropClearinghouse(tmp_path / schema))
    c = Clinic(database, make_clinic(), tmp_path)
    with c.session() as session:
        session.add(billing_provider())
        session.add(
            Payer(
                id=c.payer_id,
                name="Northwind Health",
                payer_code="NWH77",
                claim_format=ClaimFormat.PROFESSIONAL,
            )
        )
        session.add(
            Program(
                id=c.program_id,
                name="DBT skills",
                modality=Modality.DBT_SKILLS,
                kind=ProgramKind.OPEN,
                level_of_care=LevelOfCare.OUTPATIENT,
                capacity=12,
                therapeutic_minimum=2,
                default_cpt="90853",
                session_minutes=90,
                timezone="America/New_York",
                required_credentials=[],
                starts_on=date(2026, 1, 5),
                fit_criteria={},
            )
        )
    yield c
    use_clearinghouse(previous)


def queued_checks(session: Session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == CHECK_ELIGIBILITY)))


def queue(c: Clinic, label: str, reason: CheckReason = CheckReason.REQUESTED) -> uuid.UUID:
    with c.session() as session:
        return request_check(session, c.clients[label], reason)


def test_a_covered_member_gets_one_270_about_mental_health_and_90853_in_the_clearinghouse_outbox(
    clinic: Clinic,
) -> None:
    """Queued then run: one 270 file with EQ*MH and EQ**HC:90853; the check is pending under its trace."""
    clinic.member("ana", "NW100005")
    check_id = queue(clinic, "ana", CheckReason.ENROLLMENT)
    assert clinic.run_outbox() == 1
    (sent,) = (clinic.drop / "outbox").glob("*.x12")
    text = sent.read_text()
    assert transaction_kind(text) == "270"
    (check,) = clinic.checks("ana")
    assert (check.id, check.status, check.responded_at) == (check_id, "pending", None)
    assert check.submission_id is not None and re.fullmatch(r"[A-Z0-9]{15}", check.submission_id)
    assert f"TRN*1*{check.submission_id}*1123456789" in text
    assert "NM1*IL*1*HADDAD*NOOR****MI*NW100005" in text and "NM1*1P*2*" in text
    assert "EQ*MH~" in text and "EQ**HC:90853~" in text
    assert "HADDAD" not in check.submission_id


def test_an_active_271_records_coverage_active_with_the_copay_and_visit_limit(clinic: Clinic) -> None:
    """The payer says active: the check is active, copay 25.00, 30 visits; the enrollment stays active."""
    clinic.member("ana", "NW100005")
    queue(clinic, "ana")
    clinic.run_outbox()
    clinic.answer()
    (check,) = clinic.checks("ana")
    assert (check.status, check.copay, check.visit_limit) == ("active", Decimal("25.00"), 30)
    assert "coverage active" in check.messages and check.responded_at is not None
    enrollment, events = clinic.enrollment("ana")
    assert enrollment.status == EnrollmentStatus.ACTIVE and events == []


def test_an_inactive_member_is_put_on_administrative_hold_with_an_enrollment_event(clinic: Clinic) -> None:
    """EB*6: the check is inactive and the member's active enrollment goes on administrative hold, with
    the reason in the enrollment history and no user as its actor (the system did it)."""
    clinic.member("ben", "INACTIVE0042")
    clinic.member("ana", "NW100005")
    queue(clinic, "ben")
    queue(clinic, "ana")
    clinic.run_outbox()
    clinic.answer()
    (check,) = clinic.checks("ben")
    assert check.status == "inactive" and "coverage inactive" in check.messages
    enrollment, events = clinic.enrollment("ben")
    assert enrollment.status == EnrollmentStatus.ON_HOLD_ADMINISTRATIVE
    assert [(e.from_status, e.to_status, e.reason, e.actor_user_id) for e in events] == [
        ("active", "on_hold_administrative", HOLD_REASON, None)
    ]
    assert clinic.enrollment("ana")[0].status == EnrollmentStatus.ACTIVE


def test_applying_the_same_inactive_answer_again_holds_nobody_twice(clinic: Clinic) -> None:
    """A repeated apply (a re-read 271) finds no active enrollment left: one event, not two."""
    clinic.member("ben", "INACTIVE0042")
    queue(clinic, "ben")
    clinic.run_outbox()
    clinic.answer()
    with clinic.session() as session:
        check = session.scalars(select(EligibilityCheck)).one()
        assert apply_result(session, check) == []
    assert len(clinic.enrollment("ben")[1]) == 1


def test_an_older_inactive_answer_arriving_after_a_newer_active_one_holds_nobody(clinic: Clinic) -> None:
    """271s can arrive out of order: the latest requested check decides, so a stale "inactive" is ignored."""
    clinic.member("ben", "NW100005")
    with clinic.session() as session:
        coverage = session.scalars(select(ClientCoverage)).one()
        now = datetime.now(UTC)
        old = EligibilityCheck(
            client_id=coverage.client_id,
            coverage_id=coverage.id,
            status="inactive",
            requested_at=now - timedelta(days=2),
            responded_at=now,
        )
        session.add(old)
        session.add(
            EligibilityCheck(
                client_id=coverage.client_id,
                coverage_id=coverage.id,
                status="active",
                requested_at=now - timedelta(days=1),
                responded_at=now - timedelta(hours=1),
            )
        )
        session.flush()
        assert apply_result(session, old) == []
    assert clinic.enrollment("ben")[0].status == EnrollmentStatus.ACTIVE


def test_a_member_the_payer_cannot_find_is_unknown_and_not_held(clinic: Clinic) -> None:
    """AAA 75: the check is unknown with the payer's reason; unknown is not grounds for a hold."""
    clinic.member("cy", "NOTFOUND9")
    queue(clinic, "cy")
    clinic.run_outbox()
    clinic.answer()
    (check,) = clinic.checks("cy")
    assert check.status == "unknown"
    assert check.messages == ["payer rejected the inquiry: member not found"]
    assert clinic.enrollment("cy")[0].status == EnrollmentStatus.ACTIVE


def test_a_coverage_without_a_configured_payer_is_recorded_unknown_and_nothing_is_sent(
    clinic: Clinic,
) -> None:
    """No payer: the job does not fail; the check says "no payer configured" and no 270 leaves."""
    clinic.member("dee", "NW100007", payer=False)
    check_id = queue(clinic, "dee")
    assert clinic.run_outbox() == 1
    (check,) = clinic.checks("dee")
    assert (check.id, check.status, check.messages) == (check_id, "unknown", ["no payer configured"])
    assert check.submission_id is None and not list((clinic.drop / "outbox").glob("*.x12"))


def test_a_member_id_the_270_cannot_carry_is_unknown_naming_the_field_not_the_value(clinic: Clinic) -> None:
    """A member id with spaces fails the 270's own checks: unknown, "memberId invalid_identifier"."""
    clinic.member("eve", "NW 1000 08")
    queue(clinic, "eve")
    clinic.run_outbox()
    (check,) = clinic.checks("eve")
    assert (check.status, check.messages) == ("unknown", ["270 not sent: memberId invalid_identifier"])
    assert not list((clinic.drop / "outbox").glob("*.x12"))


def test_a_member_without_coverage_gets_no_check(clinic: Clinic) -> None:
    """Self-pay (no primary coverage): nothing to ask the payer, nothing recorded, the job succeeds."""
    clinic.member("fay", None)
    queue(clinic, "fay", CheckReason.ENROLLMENT)
    assert clinic.run_outbox() == 1
    assert clinic.checks("fay") == []


def test_the_schedule_queues_only_active_covered_members_whose_last_check_is_stale(clinic: Clinic) -> None:
    """Never checked and checked 31 days ago are due; checked 30 days ago, already queued, on hold,
    discharged or uncovered are not; a second run the same day queues nothing."""
    today = date(2026, 3, 1)
    clinic.member("never", "NW1")
    clinic.member("stale", "NW2")
    clinic.member("recent", "NW3")
    clinic.member("queued", "NW4")
    clinic.member("held", "NW5", status=EnrollmentStatus.ON_HOLD_ADMINISTRATIVE)
    clinic.member("dropped", "NW6", status=EnrollmentStatus.DROPPED)
    clinic.member("self_pay", None)
    with clinic.session() as session:
        coverages = {c.client_id: c.id for c in session.scalars(select(ClientCoverage))}
        for label, days in (("stale", 31), ("recent", 30)):
            client_id = clinic.clients[label]
            session.add(
                EligibilityCheck(
                    client_id=client_id,
                    coverage_id=coverages[client_id],
                    status="active",
                    requested_at=datetime(2026, 3, 1, 9, tzinfo=UTC) - timedelta(days=days),
                )
            )
        request_check(session, clinic.clients["queued"], CheckReason.REQUESTED)
    with clinic.session() as session:
        due = request_due_checks(session, today, every_days=30)
    assert set(due) == {clinic.clients["never"], clinic.clients["stale"]}
    with clinic.session() as session:
        assert request_due_checks(session, today, every_days=30) == []
        payloads = [
            m.payload
            for m in session.scalars(select(OutboxMessage).where(OutboxMessage.kind == CHECK_ELIGIBILITY))
        ]
    assert sorted(p["client_id"] for p in payloads) == sorted(
        str(clinic.clients[label]) for label in ("never", "stale", "queued")
    )


CHECK = """mutation Check($clientId: ID!) {
  checkEligibility(clientId: $clientId) {
    __typename
    ... on EligibilityCheckQueued { checkId clientId }
    ... on UserError { field code }
  }
}"""
HISTORY = """query History($clientId: ID!) {
  eligibilityChecks(clientId: $clientId) { id status copay visitLimit messages payerName respondedAt }
}"""


def test_the_front_desk_queues_a_check_through_graphql_and_reads_its_answer(
    clinic: Clinic, graphql: GraphQLClient, database: Database, settings: Settings
) -> None:
    """checkEligibility queues the check (audited with the member); once answered the history shows it."""
    desk = make_account(database, settings, clinic.tenant, ["front_desk"])
    client_id = str(clinic.member("ana", "NW100005"))
    queued = graphql.data(CHECK, {"clientId": client_id}, desk.token)["checkEligibility"]
    assert queued["__typename"] == "EligibilityCheckQueued" and queued["clientId"] == client_id
    assert graphql.data(HISTORY, {"clientId": client_id}, desk.token)["eligibilityChecks"] == []
    clinic.run_outbox()
    clinic.answer()
    (check,) = graphql.data(HISTORY, {"clientId": client_id}, desk.token)["eligibilityChecks"]
    assert (check["id"], check["status"], check["copay"], check["visitLimit"]) == (
        queued["checkId"],
        "ACTIVE",
        "25.00",
        30,
    )
    assert check["payerName"] == "Northwind Health" and check["respondedAt"]
    with clinic.session() as session:
        audited = {
            (e.action, e.resource_type, e.resource_id)
            for e in session.scalars(select(AuditEvent).where(AuditEvent.member_id == uuid.UUID(client_id)))
        }
    assert ("create", "eligibility_check", queued["checkId"]) in audited
    assert ("read", "eligibility_check", None) in audited


def test_a_clinician_reads_checks_but_cannot_queue_one(
    clinic: Clinic, graphql: GraphQLClient, database: Database, settings: Settings
) -> None:
    """Clinicians see coverage status in the history but sending 270s is front desk and billing work."""
    clinician = make_account(database, settings, clinic.tenant, ["clinician"])
    client_id = str(clinic.member("ana", "NW100005"))
    body = graphql.execute(CHECK, {"clientId": client_id}, clinician.token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert graphql.data(HISTORY, {"clientId": client_id}, clinician.token)["eligibilityChecks"] == []
    with clinic.session() as session:
        assert (
            list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == CHECK_ELIGIBILITY))) == []
        )


def test_checking_an_unknown_or_uncovered_member_is_refused_with_a_typed_error(
    clinic: Clinic, graphql: GraphQLClient, database: Database, settings: Settings
) -> None:
    """Unknown client: NotFound; no coverage: no_coverage; no configured payer: no_payer; nothing queued."""
    biller = make_account(database, settings, clinic.tenant, ["biller"])
    cases = {
        str(uuid.uuid4()): ("NotFound", "not_found"),
        str(clinic.member("fay", None)): ("InvalidInput", "no_coverage"),
        str(clinic.member("dee", "NW7", payer=False)): ("InvalidInput", "no_payer"),
    }
    for client_id, expected in cases.items():
        result = graphql.data(CHECK, {"clientId": client_id}, biller.token)["checkEligibility"]
        assert (result["__typename"], result["code"]) == expected
        assert result["field"] == "clientId"
    with clinic.session() as session:
        assert (
            list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == CHECK_ELIGIBILITY))) == []
        )
