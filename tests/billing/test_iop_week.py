"""An IOP week: five closed sessions become one 837I claim per member, revenue code 0905 with S9480."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from backend.billing.authorizations import AuthorizedService
from backend.billing.clearinghouse import FileDropClearinghouse
from backend.billing.corrections import void_claim
from backend.billing.engine import produce_claims
from backend.billing.iop_claims import IOP_WEEK
from backend.billing.models import (
    BillingDecision,
    BillingProvider,
    Claim,
    ClaimFormat,
    ClaimPayment,
    ClaimStatus,
    Payer,
    PayerRuleVersion,
)
from backend.billing.payer_rules import ClaimFormat as RulesFormat
from backend.billing.payer_rules import PayerRules, rules_as_json
from backend.billing.providers import FacilityType
from backend.billing.submission import process_responses, submit_ready_claims
from backend.billing.x12.validation import pyx12_errors
from backend.clients.models import Authorization, Client, ClientCoverage, ClientDiagnosis, CoveragePriority
from backend.database import Database
from backend.documentation.models import BillableEvent
from backend.documentation.signing import remove_member
from backend.documentation.signoff import RecordStatus
from backend.enrollment.models import Attendance, Enrollment, EnrollmentStatus, SessionAttendee
from backend.programs.models import LevelOfCare, Modality, Program, ProgramKind
from backend.scheduling.models import (
    FacilitatorRole,
    GroupSession,
    SessionFacilitator,
    SessionKind,
    SessionStatus,
)
from backend.settings import get_settings
from backend.staff.models import StaffMember
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_async_engine, tenant_session
from backend.workers.outbox import OutboxMessage, process
from tests.billing.factories import billing_provider, remove_from_final_record
from tests.billing.simulated_clearinghouse import SimulatedClearinghouse
from tests.documentation.group_scenario import add_staff
from tests.documentation.test_privacy_matrix import add_record

IOP_RULES = PayerRules(claim_format=RulesFormat.INSTITUTIONAL, fee_schedule={"S9480": Decimal("150.00")})
MONDAY = date(2026, 11, 16)


def _seed(
    session: Session, rules: PayerRules = IOP_RULES
) -> tuple[uuid.UUID, list[uuid.UUID], list[uuid.UUID]]:
    """An IOP program with a Monday-Friday week of 3-hour sessions; the last member attends only two days."""
    lead = add_staff(session, "Ida Lead", None)
    session.get_one(StaffMember, lead).npi = "1987654328"
    payer = Payer(
        id=uuid.uuid4(), name="Blue Plan", payer_code="BLU01", claim_format=ClaimFormat.INSTITUTIONAL
    )
    session.add(payer)
    session.add(billing_provider())
    session.flush()
    session.add(
        PayerRuleVersion(payer_id=payer.id, effective_from=date(2026, 1, 1), rules=rules_as_json(rules))
    )
    program = Program(
        id=uuid.uuid4(),
        name="IOP",
        modality=Modality.CBT,
        kind=ProgramKind.OPEN,
        level_of_care=LevelOfCare.IOP,
        capacity=10,
        therapeutic_minimum=2,
        default_cpt="90853",
        session_minutes=180,
        timezone="UTC",
        required_credentials=[],
        starts_on=date(2026, 1, 5),
        fit_criteria={},
    )
    session.add(program)
    clients = []
    for i in range(3):
        client = Client(
            id=uuid.uuid4(),
            first_name=f"Member{i}",
            last_name="Iop",
            date_of_birth=date(1980, 1, 1),
            sex="M",
            address_line1="1 Main St",
            city="Bangor",
            state="ME",
            postal_code="04401",
        )
        session.add(client)
        session.flush()
        session.add(
            ClientCoverage(
                client_id=client.id,
                priority=CoveragePriority.PRIMARY,
                payer_name="Blue Plan",
                member_id=f"BLU{i:05d}",
                payer_id=payer.id,
            )
        )
        session.add(
            ClientDiagnosis(client_id=client.id, code="F33.2", is_primary=True, noted_on=date(2026, 1, 5))
        )
        session.add(
            Enrollment(
                id=uuid.uuid4(),
                program_id=program.id,
                client_id=client.id,
                status=EnrollmentStatus.ACTIVE,
                starts_on=date(2026, 11, 2),
            )
        )
        clients.append(client.id)
    session.flush()
    enrollments = {e.client_id: e.id for e in session.scalars(select(Enrollment))}
    sessions = []
    for day in range(5):
        starts = datetime.combine(MONDAY + timedelta(days=day), datetime.min.time(), UTC) + timedelta(hours=9)
        gs = GroupSession(
            id=uuid.uuid4(),
            program_id=program.id,
            kind=SessionKind.GROUP,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=180),
            status=SessionStatus.COMPLETED,
        )
        session.add(gs)
        session.flush()
        session.add(SessionFacilitator(session_id=gs.id, staff_id=lead, role=FacilitatorRole.LEAD))
        present = clients[:2] + ([clients[2]] if day < 2 else [])
        for cid in clients:
            here = cid in present
            session.add(
                SessionAttendee(
                    session_id=gs.id,
                    client_id=cid,
                    enrollment_id=enrollments[cid],
                    attendance=Attendance.PRESENT if here else Attendance.NO_SHOW,
                    minutes_attended=180 if here else 0,
                )
            )
            if here:
                session.add(
                    BillableEvent(
                        session_id=gs.id,
                        client_id=cid,
                        enrollment_id=enrollments[cid],
                        program_id=program.id,
                        service_date=starts.date(),
                        attendance=Attendance.PRESENT,
                        minutes_attended=180,
                        session_minutes=180,
                        present_count=len(present),
                        telehealth=False,
                        cpt="90853",
                    )
                )
        sessions.append(gs.id)
    return program.id, clients, sessions


def _decide(database: Database, clinic: Tenant, sessions: list[uuid.UUID]) -> None:
    """Each closed session billed, as the worker would: decisions, IOP days marked, the week queued."""
    for sid in sessions:
        with tenant_session(database.engine, clinic.schema_name) as session:
            produce_claims(session, sid)


def _build_weeks(database: Database, clinic: Tenant) -> None:
    """The queued week jobs run; closing each day queued the week, so later ones find it built."""
    with tenant_session(database.engine, clinic.schema_name) as session:
        rows = list(session.scalars(select(OutboxMessage.id).where(OutboxMessage.kind == IOP_WEEK)))
    for row in rows:
        with tenant_session(database.engine, clinic.schema_name) as session:
            assert process(session, row)


def test_an_iop_week_makes_one_837i_per_member_with_revenue_codes_and_an_hours_warning(
    database: Database, make_clinic: Callable[..., Tenant], tmp_path: Path
) -> None:
    """5 days (15 h) for two members, 2 days (6 h, under IOP's 9) for one: three 837I claims, one warned."""
    clinic = make_clinic()
    with tenant_session(database.engine, clinic.schema_name) as session:
        _, clients, sessions = _seed(session)
    _decide(database, clinic, sessions)
    _build_weeks(database, clinic)
    with tenant_session(database.engine, clinic.schema_name) as session:
        claims = {c.client_id: c for c in session.scalars(select(Claim))}
        assert all(c.claim_format == ClaimFormat.INSTITUTIONAL for c in claims.values())
        assert len(claims) == 3
        full, part = claims[clients[0]].document, claims[clients[2]].document
        lines = full["institutional"]["lines"]
        assert [(line["revenue_code"], line["procedure"]) for line in lines] == [("0905", "S9480")] * 5
        assert full["institutional"]["statement_from"] == "2026-11-16"
        assert full["institutional"]["statement_to"] == "2026-11-20"
        assert claims[clients[0]].total_charge == Decimal("750.00") and full["warnings"] == []
        assert len(part["institutional"]["lines"]) == 2 and part["warnings"], "6 hours is under IOP's 9"
        assert all(e.consumed_at for e in session.scalars(select(BillableEvent)))
        sent = submit_ready_claims(session, FileDropClearinghouse(tmp_path / "ch"))
    assert len(sent) == 1 and sent[0].claim_count == 3
    (file,) = (tmp_path / "ch" / "outbox").glob("*.x12")
    text = file.read_text()
    assert "ST*837*" in text and "005010X223A2" in text and "SV2*0905*HC:S9480" in text
    assert pyx12_errors(text) == []
    # The payer answers each day: its payment keeps the week's days one by one.
    simulated = SimulatedClearinghouse(tmp_path / "ch")
    simulated.process()
    with tenant_session(database.engine, clinic.schema_name) as session:
        process_responses(session, FileDropClearinghouse(tmp_path / "ch"))
        week = session.scalars(select(Claim).where(Claim.client_id == clients[0])).one()
        (payment,) = session.scalars(select(ClaimPayment).where(ClaimPayment.claim_id == week.id))
    days = ("2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20")
    answered = [
        (line["service_date"], line["revenue_code"], Decimal(str(line["paid"]))) for line in payment.lines
    ]
    assert answered == [(day, "0905", Decimal("120")) for day in days]


def _authorize(session: Session, client_id: uuid.UUID, days: int, service: AuthorizedService) -> uuid.UUID:
    coverage = session.scalars(select(ClientCoverage).where(ClientCoverage.client_id == client_id)).one()
    auth = Authorization(
        id=uuid.uuid4(), client_id=client_id, coverage_id=coverage.id, reference=f"PA-{service.value}",
        service=service.value, sessions_authorized=days, starts_on=date(2026, 11, 1),
        ends_on=date(2026, 12, 31),
    )  # fmt: skip
    session.add(auth)
    return auth.id


def test_each_billed_iop_day_uses_a_day_of_its_authorization_and_the_week_claim_carries_it(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """Under a payer requiring authorization: 3 authorized IOP days cover Monday to Wednesday and
    Thursday is refused as exhausted; a group-therapy authorization covers no IOP day; billing the
    week again uses nothing twice; the week claim names the IOP authorization."""
    clinic = make_clinic()
    with tenant_session(database.engine, clinic.schema_name) as session:
        _, clients, sessions = _seed(session, replace(IOP_RULES, authorization_required=True))
        iop = _authorize(session, clients[0], 3, AuthorizedService.INTENSIVE_OUTPATIENT)
        group = _authorize(session, clients[1], 20, AuthorizedService.GROUP_PSYCHOTHERAPY)
        short = _authorize(session, clients[2], 10, AuthorizedService.INTENSIVE_OUTPATIENT)

    _decide(database, clinic, sessions)
    _decide(database, clinic, sessions)  # a retried job: every day was marked the first time
    with tenant_session(database.engine, clinic.schema_name) as session:
        used = {a.id: a.sessions_used for a in session.scalars(select(Authorization))}
        assert used == {iop: 3, group: 0, short: 2}
        decisions = {
            (d.client_id, sessions.index(d.session_id)): d for d in session.scalars(select(BillingDecision))
        }
        assert [decisions[clients[0], day].billed for day in range(5)] == [True, True, True, False, False]

        def reasons(client_id: uuid.UUID, day: int) -> set[str]:
            return {r["code"] for r in decisions[client_id, day].reasons}

        assert "authorization_exhausted" in reasons(clients[0], 3)
        assert "no_active_authorization" in reasons(clients[1], 0) and not decisions[clients[1], 0].billed
    _build_weeks(database, clinic)
    with tenant_session(database.engine, clinic.schema_name) as session:
        claims = {c.client_id: c for c in session.scalars(select(Claim))}
        assert set(claims) == {clients[0], clients[2]}, "no IOP day of the second member was authorized"
        first = claims[clients[0]]
        assert (
            first.authorization_id == iop
            and first.document["institutional"]["prior_auth"] == "PA-intensive_outpatient"
        )
        assert len(first.document["institutional"]["lines"]) == 3
        assert claims[clients[2]].authorization_id == short
        assert {a.id: a.sessions_used for a in session.scalars(select(Authorization))}[iop] == 3


def test_a_week_whose_authorization_runs_out_midweek_is_one_claim_per_authorization(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """3 authorized days run out on Wednesday and a renewal takes over: Monday to Wednesday bill under
    the first (REF*G1 names it), Thursday and Friday under the renewal, neither warned (the week has
    15 hours); removing Thursday rewrites only the renewal's claim, and voiding it gives back only
    its own day."""
    clinic = make_clinic()
    with tenant_session(database.engine, clinic.schema_name) as session:
        _, clients, sessions = _seed(session, replace(IOP_RULES, authorization_required=True))
        first = _authorize(session, clients[0], 3, AuthorizedService.INTENSIVE_OUTPATIENT)
        coverage = session.scalars(select(ClientCoverage).where(ClientCoverage.client_id == clients[0])).one()
        renewal = Authorization(
            id=uuid.uuid4(), client_id=clients[0], coverage_id=coverage.id, reference="PA-RENEWED",
            service=AuthorizedService.INTENSIVE_OUTPATIENT.value, sessions_authorized=10,
            starts_on=date(2026, 11, 1), ends_on=date(2027, 1, 31),
        )  # fmt: skip
        session.add(renewal)
    _decide(database, clinic, sessions)
    _build_weeks(database, clinic)

    def weeks() -> dict[str, tuple[ClaimStatus, list[str], str | None, list[str]]]:
        with tenant_session(database.engine, clinic.schema_name) as session:
            mine = session.scalars(select(Claim).where(Claim.client_id == clients[0]))
            return {
                c.claim_number: (
                    c.status,
                    [line["service_date"] for line in c.document["institutional"]["lines"]],
                    c.document["institutional"]["prior_auth"],
                    c.document["warnings"],
                )
                for c in mine
            }

    by_auth = {auth: (status, days, warned) for status, days, auth, warned in weeks().values()}
    assert by_auth == {
        "PA-intensive_outpatient": (ClaimStatus.READY, ["2026-11-16", "2026-11-17", "2026-11-18"], []),
        "PA-RENEWED": (ClaimStatus.READY, ["2026-11-19", "2026-11-20"], []),
    }
    assert _days_used(database, clinic, first) == (3, 3)
    assert _days_used(database, clinic, renewal.id) == (2, 2)

    remove_from_final_record(database, clinic, sessions[3], clients[0])
    by_auth = {auth: (status, days) for status, days, auth, _ in weeks().values()}
    assert by_auth["PA-intensive_outpatient"] == (
        ClaimStatus.READY,
        ["2026-11-16", "2026-11-17", "2026-11-18"],
    )
    assert by_auth["PA-RENEWED"] == (ClaimStatus.READY, ["2026-11-20"])
    assert _days_used(database, clinic, renewal.id) == (1, 1)

    with tenant_session(database.engine, clinic.schema_name) as session:
        renewed = session.scalars(select(Claim).where(Claim.authorization_id == renewal.id)).one()
        renewed.status, renewed.payer_claim_number = ClaimStatus.ACCEPTED, "PCN-R"
        void_claim(session, renewed.id)
    assert _days_used(database, clinic, renewal.id) == (0, 0)
    assert _days_used(database, clinic, first) == (3, 3)


def _answer(database: Database, clinic: Tenant, simulated: SimulatedClearinghouse, folder: Path) -> None:
    """What is ready goes out, the simulated payers answer (80% of each day paid), the answers post."""
    with tenant_session(database.engine, clinic.schema_name) as session:
        submit_ready_claims(session, FileDropClearinghouse(folder))
    simulated.process()
    with tenant_session(database.engine, clinic.schema_name) as session:
        process_responses(session, FileDropClearinghouse(folder))


def test_an_iop_week_the_primary_paid_in_part_goes_to_the_secondary_day_by_day(
    database: Database, make_clinic: Callable[..., Tenant], tmp_path: Path
) -> None:
    """Member 0 also has a Medicaid plan, second, with a 10-day IOP authorization: the primary's 835
    (80% of each day) makes an 837I to Medicaid for the same five days, each quoting the primary's
    answer to it, using five days of Medicaid's authorization. Wednesday taken off the record before
    it goes: the primary's week is replaced and the unsent secondary waits for that answer, then
    bills the four days paid (Wednesday's authorization day given back) in an 837I pyx12 accepts
    (SBR*S, 2320, 2430 SVD with the revenue code per day)."""
    clinic = make_clinic()
    folder = tmp_path / "ch"
    with tenant_session(database.engine, clinic.schema_name) as session:
        _, clients, sessions = _seed(session)
        medicaid = Payer(
            id=uuid.uuid4(), name="Maine Medicaid", payer_code="MECAID",
            claim_format=ClaimFormat.INSTITUTIONAL, filing_indicator="MC",
        )  # fmt: skip
        session.add(medicaid)
        session.flush()
        session.add(
            PayerRuleVersion(
                payer_id=medicaid.id, effective_from=date(2026, 1, 1), rules=rules_as_json(IOP_RULES)
            )
        )
        coverage = ClientCoverage(
            client_id=clients[0], priority=CoveragePriority.SECONDARY, payer_name="Maine Medicaid",
            member_id="MEC0001", payer_id=medicaid.id,
        )  # fmt: skip
        session.add(coverage)
        session.flush()
        auth = Authorization(
            id=uuid.uuid4(), client_id=clients[0], coverage_id=coverage.id, reference="MEC-IOP-1",
            service=AuthorizedService.INTENSIVE_OUTPATIENT.value, sessions_authorized=10,
            starts_on=date(2026, 11, 1), ends_on=date(2026, 12, 31),
        )  # fmt: skip
        session.add(auth)
    _decide(database, clinic, sessions)
    _build_weeks(database, clinic)
    simulated = SimulatedClearinghouse(folder)
    _answer(database, clinic, simulated, folder)

    def secondary() -> Claim:
        with tenant_session(database.engine, clinic.schema_name) as session:
            return session.scalars(
                select(Claim).where(Claim.responsibility == "secondary", Claim.status != ClaimStatus.VOIDED)
            ).one()

    week = secondary()
    body = week.document["institutional"]
    days = ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"]
    assert (week.claim_format, week.payer_id, week.status) == (
        ClaimFormat.INSTITUTIONAL,
        medicaid.id,
        ClaimStatus.READY,
    )
    assert [line["service_date"] for line in body["lines"]] == days and body["prior_auth"] == "MEC-IOP-1"
    assert [Decimal(line["paid"]) for line in body["other_payer"]["lines"]] == [Decimal("120")] * 5
    assert _days_used(database, clinic, auth.id)[0] == 5

    remove_from_final_record(database, clinic, sessions[2], clients[0])
    with tenant_session(database.engine, clinic.schema_name) as session:
        held = submit_ready_claims(session, FileDropClearinghouse(folder))
        assert [b.claim_count for b in held] == [1], "the primary's replacement goes; the secondary waits"
        assert session.get_one(Claim, week.id).status == ClaimStatus.READY
    simulated.process()
    with tenant_session(database.engine, clinic.schema_name) as session:
        process_responses(session, FileDropClearinghouse(folder))
    rebuilt = secondary()
    assert rebuilt.id == week.id and rebuilt.claim_number == week.claim_number
    billed = [line["service_date"] for line in rebuilt.document["institutional"]["lines"]]
    assert billed == [day for day in days if day != "2026-11-18"]
    assert _days_used(database, clinic, auth.id)[0] == 4
    with tenant_session(database.engine, clinic.schema_name) as session:
        (batch,) = submit_ready_claims(session, FileDropClearinghouse(folder))
    text = next((folder / "outbox").glob(f"*{batch.file_name}*.x12")).read_text()
    assert pyx12_errors(text) == [] and "SBR*S*18" in text and "REF*G1*MEC-IOP-1" in text
    assert text.count("SVD*BLU01*120*HC:S9480*0905*1") == 4


def _billed_week(database: Database, clinic: Tenant) -> tuple[list[uuid.UUID], list[uuid.UUID], uuid.UUID]:
    """The week billed and its claims made, the first member under a 10-day IOP authorization."""
    with tenant_session(database.engine, clinic.schema_name) as session:
        _, clients, sessions = _seed(session)
        auth = _authorize(session, clients[0], 10, AuthorizedService.INTENSIVE_OUTPATIENT)
    _decide(database, clinic, sessions)
    _build_weeks(database, clinic)
    return clients, sessions, auth


def _adjudicated(database: Database, clinic: Tenant, client_id: uuid.UUID) -> uuid.UUID:
    """The member's week claim as the payer accepted it, numbered PCN-1."""
    with tenant_session(database.engine, clinic.schema_name) as session:
        claim = session.scalars(select(Claim).where(Claim.client_id == client_id)).one()
        claim.status, claim.payer_claim_number = ClaimStatus.ACCEPTED, "PCN-1"
        return claim.id


def _days_used(database: Database, clinic: Tenant, auth: uuid.UUID) -> tuple[int, int]:
    """(sessions_used, days marked with the authorization)."""
    with tenant_session(database.engine, clinic.schema_name) as session:
        marked = session.scalars(select(BillableEvent).where(BillableEvent.authorization_id == auth)).all()
        return session.get_one(Authorization, auth).sessions_used, len(marked)


def test_voiding_an_iop_week_sends_a_frequency_8_837i_and_gives_back_its_days(
    database: Database, make_clinic: Callable[..., Tenant], tmp_path: Path
) -> None:
    """The payer's week claim PCN-1 is voided by a clean 837I (13:A:8, REF*F8*PCN-1); the five
    authorization days it used are given back."""
    clinic = make_clinic()
    clients, _, auth = _billed_week(database, clinic)
    assert _days_used(database, clinic, auth) == (5, 5)
    claim_id = _adjudicated(database, clinic, clients[0])
    with tenant_session(database.engine, clinic.schema_name) as session:
        void = void_claim(session, claim_id)
        assert void.frequency == "8" and void.claim_format == ClaimFormat.INSTITUTIONAL
        for other in session.scalars(select(Claim).where(Claim.client_id != clients[0])):
            other.status = ClaimStatus.SUBMITTED  # only the void goes out
        sent = submit_ready_claims(session, FileDropClearinghouse(tmp_path / "ch"))
    assert len(sent) == 1 and sent[0].claim_count == 1
    (file,) = (tmp_path / "ch" / "outbox").glob("*.x12")
    text = file.read_text()
    assert "*13:A:8*" in text and "REF*F8*PCN-1~" in text and pyx12_errors(text) == []
    assert _days_used(database, clinic, auth) == (0, 0)


def test_removing_a_member_from_one_iop_day_rewrites_the_unsent_week_without_it(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """Wednesday's removal: the unsent week claim keeps its number with four lines and $600, and
    Wednesday's authorization day is given back."""
    clinic = make_clinic()
    clients, sessions, auth = _billed_week(database, clinic)
    remove_from_final_record(database, clinic, sessions[2], clients[0])
    with tenant_session(database.engine, clinic.schema_name) as session:
        (claim,) = session.scalars(select(Claim).where(Claim.client_id == clients[0]))
        dates = [line["service_date"] for line in claim.document["institutional"]["lines"]]
        assert claim.status == ClaimStatus.READY and claim.frequency == "1"
        assert dates == ["2026-11-16", "2026-11-17", "2026-11-19", "2026-11-20"]
        assert claim.total_charge == Decimal("600.00")
    assert _days_used(database, clinic, auth) == (4, 4)


def test_removing_a_member_from_one_iop_day_of_a_sent_week_replaces_it(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """The payer has the week as PCN-1: a frequency-7 claim naming PCN-1 bills the other four days;
    removing the member from those too voids the week and gives back every day."""
    clinic = make_clinic()
    clients, sessions, auth = _billed_week(database, clinic)
    original = _adjudicated(database, clinic, clients[0])
    remove_from_final_record(database, clinic, sessions[2], clients[0])
    with tenant_session(database.engine, clinic.schema_name) as session:
        claims = {c.frequency: c for c in session.scalars(select(Claim).where(Claim.client_id == clients[0]))}
        assert claims["1"].id == original and claims["1"].status == ClaimStatus.REPLACED
        week = claims["7"].document["institutional"]
        assert week["original_claim_ref"] == "PCN-1" and len(week["lines"]) == 4
        claims["7"].status, claims["7"].payer_claim_number = ClaimStatus.ACCEPTED, "PCN-2"
    assert _days_used(database, clinic, auth) == (4, 4)
    for day in (0, 1, 3, 4):
        remove_from_final_record(database, clinic, sessions[day], clients[0])
    with tenant_session(database.engine, clinic.schema_name) as session:
        mine = session.scalars(select(Claim).where(Claim.client_id == clients[0]).order_by(Claim.created_at))
        chain = [(c.frequency, c.status, c.payer_claim_number) for c in mine]
        last = session.scalars(select(Claim).where(Claim.frequency == "8")).one()
    # PCN-2 (the payer's replacement) was replaced again while days were left, then, once none was,
    # that unsent replacement became the void of PCN-2.
    assert chain == [
        ("1", ClaimStatus.REPLACED, "PCN-1"),
        ("7", ClaimStatus.VOIDED, "PCN-2"),
        ("8", ClaimStatus.READY, None),
    ]
    assert last.document["institutional"]["original_claim_ref"] == "PCN-2"
    assert _days_used(database, clinic, auth) == (0, 0)


def test_a_community_mental_health_center_bills_its_weeks_on_type_of_bill_076x(
    database: Database, make_clinic: Callable[..., Tenant], tmp_path: Path
) -> None:
    """A clinic whose billing provider is a CMHC: its week claims go out as 76:A:1 (TOB 0761), pass
    pyx12, and a sent week corrected after a removal is 0767."""
    clinic = make_clinic()
    with tenant_session(database.engine, clinic.schema_name) as session:
        _, clients, sessions = _seed(session)
        provider = session.scalars(select(BillingProvider)).one()
        provider.facility_type = FacilityType.COMMUNITY_MENTAL_HEALTH_CENTER
    _decide(database, clinic, sessions)
    _build_weeks(database, clinic)
    with tenant_session(database.engine, clinic.schema_name) as session:
        bills = {c.document["institutional"]["type_of_bill"] for c in session.scalars(select(Claim))}
        assert bills == {"0761"}
        sent = submit_ready_claims(session, FileDropClearinghouse(tmp_path / "ch"))
    assert len(sent) == 1 and sent[0].claim_count == 3
    (file,) = (tmp_path / "ch" / "outbox").glob("*.x12")
    text = file.read_text()
    assert text.count("*76:A:1*") == 3 and "*13:A:" not in text and pyx12_errors(text) == []
    _adjudicated(database, clinic, clients[0])
    remove_from_final_record(database, clinic, sessions[2], clients[0])
    with tenant_session(database.engine, clinic.schema_name) as session:
        replacement = session.scalars(select(Claim).where(Claim.frequency == "7")).one()
        assert replacement.document["institutional"]["type_of_bill"] == "0767"


def test_removing_a_member_from_an_iop_day_not_yet_on_a_claim_gives_its_authorization_day_back(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """Monday to Wednesday are decided (three days used) before the week's claim is made; taking the
    member off Tuesday's final record withdraws that day and gives its authorization day back."""
    clinic = make_clinic()
    with tenant_session(database.engine, clinic.schema_name) as session:
        _, clients, sessions = _seed(session)
        auth = _authorize(session, clients[0], 10, AuthorizedService.INTENSIVE_OUTPATIENT)
        add_record(session, sessions[1], {"theme": "skills"}, {}, RecordStatus.FINAL, datetime.now(UTC))
    _decide(database, clinic, sessions[:3])
    assert _days_used(database, clinic, auth) == (3, 3)

    async def remove() -> None:
        engine = create_async_engine(database.url, poolclass=NullPool)
        async with AsyncSession(tenant_async_engine(engine, clinic.schema_name)) as s, s.begin():
            await remove_member(s, sessions[1], clients[0], "Charted in error")
        await engine.dispose()

    asyncio.run(remove())
    assert _days_used(database, clinic, auth) == (2, 2)


def test_an_iop_week_never_uses_an_authorization_for_another_service(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """The payer needs no authorization and the member holds one for group psychotherapy only: the
    week is billed without it, and none of its sessions is used."""
    clinic = make_clinic()
    with tenant_session(database.engine, clinic.schema_name) as session:
        _, clients, sessions = _seed(session)
        group = _authorize(session, clients[1], 20, AuthorizedService.GROUP_PSYCHOTHERAPY)
    _decide(database, clinic, sessions)
    _build_weeks(database, clinic)
    with tenant_session(database.engine, clinic.schema_name) as session:
        claim = session.scalars(select(Claim).where(Claim.client_id == clients[1])).one()
        assert claim.authorization_id is None and claim.document["institutional"]["prior_auth"] is None
    assert _days_used(database, clinic, group) == (0, 0)


def test_claims_go_out_marked_for_real_processing_only_when_configured(
    database: Database, make_clinic: Callable[..., Tenant], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ISA15 follows ENSEMBLE_X12_USAGE (P in production, T elsewhere): with P the 837I says P."""
    clinic = make_clinic()
    _billed_week(database, clinic)
    monkeypatch.setenv("ENSEMBLE_X12_USAGE", "P")
    get_settings.cache_clear()
    try:
        with tenant_session(database.engine, clinic.schema_name) as session:
            (batch,) = submit_ready_claims(session, FileDropClearinghouse(tmp_path / "ch"))
    finally:
        get_settings.cache_clear()
    (file,) = (tmp_path / "ch" / "outbox").glob("*.x12")
    assert batch.claim_count == 3 and "*00501*" in file.read_text()
    assert file.read_text().split("~")[0].split("*")[15] == "P"
