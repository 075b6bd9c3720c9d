"""Benchmark: attendance -> decisions -> claims -> 837P files for 10,000 member-sessions. Not run by pytest.

    python -m tests.bench.bench_billing [--member-sessions 10000] [--runs 3] [--per-file 1000] [--profile]

The scenario: sessions of 12 members (834 for 10,000 member-sessions, about one absent each) in
weekly groups of 12 clients, two payers (Medicaid: HQ, credential modifiers, a minimum of minutes,
authorizations; commercial: one group visit a day, a minimum session length), a fifth of the
groups by telehealth, one to three diagnoses per member, a rendering NPI per lead facilitator.
Prints, side by side in one run (the goal: at least 1,000 claims/s on 2 cores):
- the pure pipeline (no database), median of `--runs`: decisions and claims built from the
  attendance (`decide_session`, `claimable`, `build_claim`), then `write_837p` in files of
  `--per-file` claims (the writer alone: tests/bench/bench_837.py);
- the database pipeline, one run each, one clinic per configuration (seeded alike with bulk
  inserts; seeding untimed): `produce_claims_many` in jobs of 1 session (as before batching) and of
  `--batch` sessions (the worker takes up to BATCH_SESSIONS waiting closed sessions per job), each
  job in its own transaction, on 1 thread and on 2 threads; in rounds each followed by
  `submit_ready_claims` (to a file-drop clearinghouse in a temporary folder), so that no payer file
  exceeds `--per-file` claims (a submission sends all of a payer's READY claims as one file, and the
  writer refuses more than 5,000); the first two clinics submit with pyx12 validation as production
  does, the others with a no-op validator (the writing alone); then the whole pipeline end to end.
`--profile` runs the batched 1-thread produce (with pyx12) under cProfile and prints where the time goes.
Creates a throwaway database on DATABASE_URL (default: the embedded server) and drops it after.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import multiprocessing
import pstats
import random
import statistics
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

import backend.billing.submission as submission
from backend.billing import claims as doc
from backend.billing.claim_builder import build_claim, claim_number, claimable
from backend.billing.clearinghouse import FileDropClearinghouse
from backend.billing.decisions import Coverage, Eligibility, MemberFacts, ProgramKind, SessionFacts
from backend.billing.engine import BATCH_SESSIONS, produce_claims, produce_claims_many
from backend.billing.models import (
    BillingProvider,
    Claim,
    ClaimFormat,
    ClaimStatus,
    EligibilityCheck,
    Payer,
    PayerRuleVersion,
)
from backend.billing.payer_rules import LevelOfCare, PayerRules, TelehealthPos, rules_as_json
from backend.billing.session_facts import SessionBilling
from backend.billing.x12.claim_837p import write_837p
from backend.billing.x12.validation import pyx12_errors
from backend.clients.models import Authorization, Client, ClientCoverage, ClientDiagnosis
from backend.clients.rules import CoveragePriority
from backend.database import connect
from backend.documentation.models import BillableEvent, SessionRecord
from backend.documentation.signoff import RecordStatus
from backend.enrollment.models import Enrollment, EnrollmentStatus, SessionAttendee
from backend.enrollment.rules import ATTENDED, Attendance
from backend.programs.models import LevelOfCare as ProgramLevel
from backend.programs.models import Modality, Program
from backend.programs.models import ProgramKind as Admission
from backend.scheduling.models import (
    FacilitatorRole,
    GroupSession,
    SessionFacilitator,
    SessionKind,
    SessionStatus,
)
from backend.settings import load_settings
from backend.staff.models import BookableResource, StaffCredential, StaffMember
from backend.tenants.provisioning import provision_tenant
from backend.tenants.routing import tenant_engine, tenant_session
from tests.bench.bench_837 import make_batches
from tests.support import fresh_database

MEMBERS = 12  # per session
WEEKS = 12  # sessions per group
ZONE = "America/Chicago"
DIAGNOSES = ["F33.1", "F43.10", "F41.1", "F60.3", "F90.0", "F32.A", "F10.20"]
MEDICAID = PayerRules(
    min_minutes_attended=45,
    telehealth_pos=TelehealthPos.NOT_AT_HOME,
    telehealth_modifier="GT",
    group_modifier="HQ",
    credential_modifiers={"LCSW": "AJ", "PSYD": "AH", "LPC": "HO"},
    fee_schedule={"90853": Decimal("45.00")},
)
COMMERCIAL = PayerRules(
    min_session_minutes=60,
    telehealth_pos=TelehealthPos.AT_HOME,
    one_group_visit_per_day=True,
    fee_schedule={"90853": Decimal("60.00")},
)
PAYERS = (
    (uuid.UUID(int=1), "Medicaid MCO", "MCD01", "MC", MEDICAID),
    (uuid.UUID(int=2), "Northwoods Health", "NWH01", "CI", COMMERCIAL),
)
# (display name, NPI, credential): leads bill; the trainee co-facilitates and has no NPI.
STAFF = (
    ("Grace Okafor", "1555555550", "LCSW"),
    ("Ilse Brandt", "2453198709", "PsyD"),
    ("Tomas Reyes", "1234567893", "LPC"),
    ("Ana Lind", None, "Trainee"),
)


@dataclass
class Plan:
    """Every row of the scenario (Core-insertable dicts, table by table), and the sessions in close order."""

    rows: dict[type, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    sessions: list[uuid.UUID] = field(default_factory=list)

    def add(self, model: type, columns: str, *values: Any) -> dict[str, Any]:
        """A row of `model`: `columns` names the values, space-separated (an "id" column gets a new uuid)."""
        names = columns.split()
        row: dict[str, Any] = {"id": uuid.uuid4()} if names[0] == "id" else {}
        row.update(zip(names[len(row) :], values, strict=True))
        self.rows[model].append(row)
        return row


def make_plan(member_sessions: int) -> Plan:
    rng = random.Random(5)
    plan = Plan()
    today = date.today()
    monday = datetime.combine(today - timedelta(weeks=WEEKS + 1, days=today.weekday()), clock(14), UTC)
    for payer_id, name, code, indicator, rules in PAYERS:
        plan.rows[Payer].append(
            {"id": payer_id, "name": name, "payer_code": code, "filing_indicator": indicator}
            | {"claim_format": ClaimFormat.PROFESSIONAL}
        )
        rules_json = rules_as_json(rules)
        plan.add(PayerRuleVersion, "id payer_id effective_from rules", payer_id, date(2020, 1, 1), rules_json)
    plan.add(
        BillingProvider,
        "id name npi tax_id taxonomy address_line1 city state postal_code contact_phone is_default",
        *("Lakeside Group Therapy", "1987654328", "842719053", "261QM0801X", "42 Harbor Rd", "Madison", "WI"),
        *("537032211", "6085550142", True),
    )
    staff = []
    for lane, (display, npi, credential) in enumerate(STAFF, start=1):
        plan.add(BookableResource, "lane kind", lane, "staff")
        taxonomy = "1041C0700X" if npi else None
        member = plan.add(StaffMember, "id display_name lane npi taxonomy", display, lane, npi, taxonomy)
        plan.add(StaffCredential, "id staff_id credential", member["id"], credential)
        staff.append(member["id"])
    session_count = math.ceil(member_sessions / MEMBERS)
    groups = math.ceil(session_count / WEEKS)
    rosters = []
    for p in range(groups):
        program = plan.add(
            Program,
            "id name modality kind level_of_care capacity therapeutic_minimum default_cpt session_minutes",
            *(f"Group {p}", Modality.DBT_SKILLS, Admission.OPEN, ProgramLevel.OUTPATIENT, MEMBERS, 2),
            *("90853", 90),
        )
        program |= {"telehealth": p % 5 == 4, "timezone": ZONE, "starts_on": monday.date()}
        program |= {"fit_criteria": {}, "lead_facilitator_id": staff[p % 3]}
        roster = []
        for m in range(MEMBERS):
            index = p * MEMBERS + m
            born = date(1950, 1, 1) + timedelta(days=rng.randrange(20_000))
            client = plan.add(
                Client,
                "id first_name last_name date_of_birth sex address_line1 city state postal_code",
                *(f"Member{index}", "Test", born, rng.choice("FMU"), f"{index} Elm St"),
                *("Madison", "WI", "53704"),
            )
            cid, medicaid = client["id"], rng.random() < 0.6
            payer_id, payer_name, *_ = PAYERS[0 if medicaid else 1]
            coverage = plan.add(
                ClientCoverage,
                "id client_id priority payer_name member_id group_number payer_id",
                *(cid, CoveragePriority.PRIMARY, payer_name, f"M{index:09d}"),
                *(None if medicaid else "WI-88120", payer_id),
            )
            for n, code in enumerate(rng.sample(DIAGNOSES, rng.randint(1, 3))):
                plan.add(ClientDiagnosis, "id client_id code is_primary noted_on", cid, code, n == 0, today)
            if medicaid:
                plan.add(
                    Authorization,
                    "id client_id coverage_id reference sessions_authorized sessions_used starts_on ends_on",
                    *(cid, coverage["id"], f"PA{index}", 52, 0, monday.date(), today + timedelta(days=90)),
                )
            if rng.random() < 0.5:
                checked = monday - timedelta(days=7)  # eligible (271 active); the others: unknown, billed
                columns = "id client_id coverage_id status requested_at"
                plan.add(EligibilityCheck, columns, cid, coverage["id"], "active", checked)
            columns = "id program_id client_id status starts_on"
            enrollment = plan.add(
                Enrollment, columns, program["id"], cid, EnrollmentStatus.ACTIVE, monday.date()
            )
            roster.append((cid, enrollment["id"]))
        rosters.append((program, roster))
    starts = []
    for k in range(session_count):  # week-major: groups meeting the same week close side by side
        p = k % groups
        program, roster = rosters[p]
        starts_at = monday + timedelta(weeks=k // groups, days=p % 5, hours=(p // 5) % 6)
        ends_at = starts_at + timedelta(minutes=90)
        gs = plan.add(
            GroupSession,
            "id program_id kind starts_at ends_at telehealth status",
            *(program["id"], SessionKind.GROUP, starts_at, ends_at, program["telehealth"]),
            SessionStatus.COMPLETED,
        )
        starts.append((starts_at, gs["id"]))
        plan.add(
            SessionRecord,
            "session_id started_at ended_at template group_note status finalized_at",
            *(gs["id"], starts_at, ends_at, {}, {}, RecordStatus.FINAL, ends_at),
        )
        lead = program["lead_facilitator_id"]
        plan.add(SessionFacilitator, "session_id staff_id role", gs["id"], lead, FacilitatorRole.LEAD)
        if p % 2:
            plan.add(SessionFacilitator, "session_id staff_id role", gs["id"], staff[3], FacilitatorRole.CO)
        absent = set(rng.sample(range(MEMBERS), rng.choice((0, 1, 1, 1, 2))))
        marks = [
            rng.choice((Attendance.NO_SHOW, Attendance.LATE_CANCEL, Attendance.EXCUSED))
            if m in absent
            else rng.choices((Attendance.PRESENT, Attendance.LATE, Attendance.LEFT_EARLY), (8, 1, 1))[0]
            for m in range(MEMBERS)
        ]
        present = sum(mark in ATTENDED for mark in marks)
        service_date = starts_at.astimezone(ZoneInfo(ZONE)).date()
        for (cid, enrollment_id), mark in zip(roster, marks, strict=True):
            minutes = 0 if mark not in ATTENDED else 90 if mark is Attendance.PRESENT else 70
            plan.add(
                SessionAttendee,
                "session_id client_id enrollment_id attendance minutes_attended",
                *(gs["id"], cid, enrollment_id, mark, minutes),
            )
            if mark in ATTENDED:
                plan.add(
                    BillableEvent,
                    "id session_id client_id enrollment_id program_id service_date attendance"
                    " minutes_attended session_minutes present_count telehealth cpt",
                    *(gs["id"], cid, enrollment_id, program["id"], service_date, mark, minutes, 90, present),
                    *(gs["telehealth"], "90853"),
                )
    plan.sessions = [sid for _, sid in sorted(starts)]
    return plan


def seed(session: Session, plan: Plan) -> None:
    """Bulk Core inserts, table by table in dependency order."""
    for model, rows in plan.rows.items():
        for start in range(0, len(rows), 5000):
            session.execute(insert(model), rows[start : start + 5000])


# -- the pure pipeline: the same rows as transient objects, no database


def pure_inputs(plan: Plan) -> list[Callable[[], SessionBilling]]:
    """One builder per session (in close order) of what `session_facts.load` would answer for it."""
    rows = plan.rows
    clients = {r["id"]: Client(**r) for r in rows[Client]}
    coverages = {r["client_id"]: ClientCoverage(**r) for r in rows[ClientCoverage]}
    auths = {r["client_id"]: Authorization(**r) for r in rows[Authorization]}
    eligible = {r["client_id"]: r["status"] for r in rows[EligibilityCheck]}
    diagnoses: dict[uuid.UUID, list[str]] = defaultdict(list)
    for r in sorted(rows[ClientDiagnosis], key=lambda r: not r["is_primary"]):
        diagnoses[r["client_id"]].append(r["code"])
    programs = {r["id"]: Program(**r) for r in rows[Program]}
    staff = {r["id"]: StaffMember(**r) for r in rows[StaffMember]}
    credentials = {r["staff_id"]: r["credential"].upper() for r in rows[StaffCredential]}
    payers = {str(r["id"]): Payer(**r) for r in rows[Payer]}
    rules = {str(payer_id): payer_rules for payer_id, *_, payer_rules in PAYERS}
    sessions = {r["id"]: GroupSession(**r) for r in rows[GroupSession]}
    leads = {
        r["session_id"]: r["staff_id"] for r in rows[SessionFacilitator] if r["role"] is FacilitatorRole.LEAD
    }
    roster: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for r in rows[SessionAttendee]:
        roster[r["session_id"]].append(r)

    def builder(session_id: uuid.UUID) -> Callable[[], SessionBilling]:
        gs = sessions[session_id]
        program = programs[gs.program_id] if gs.program_id else None
        rendering = staff[leads[session_id]]

        def build() -> SessionBilling:  # attendance -> the decision's inputs, as load() builds them
            members = [
                MemberFacts(
                    client_key=str(a["client_id"]),
                    attendance=a["attendance"],
                    minutes_attended=a["minutes_attended"],
                    enrollment_status=EnrollmentStatus.ACTIVE,
                    diagnoses=tuple(diagnoses[a["client_id"]]),
                    coverage=Coverage(
                        str(coverages[a["client_id"]].payer_id), coverages[a["client_id"]].member_id
                    ),
                    eligibility=Eligibility(eligible.get(a["client_id"], "unknown")),
                )
                for a in roster[session_id]
            ]
            facts = SessionFacts(
                session_id=str(session_id),
                service_date=gs.starts_at.astimezone(ZoneInfo(ZONE)).date(),
                minutes=int((gs.ends_at - gs.starts_at).total_seconds() // 60),
                telehealth=gs.telehealth,
                program_kind=ProgramKind.GROUP,
                level_of_care=LevelOfCare.OUTPATIENT,
                rendering_credentials=(credentials[rendering.id],),
            )
            ids = [a["client_id"] for a in roster[session_id]]
            return SessionBilling(
                gs,
                program,
                facts,
                members,
                dict(rules),
                payers,
                {c: clients[c] for c in ids},
                {c: coverages[c] for c in ids},
                {c: tuple(diagnoses[c]) for c in ids},
                {c: auths[c] for c in ids if c in auths},
                rendering,
            )

        return build

    return [builder(sid) for sid in plan.sessions]


def pure_claims(
    inputs: Iterable[Callable[[], SessionBilling]],
) -> list[tuple[doc.Subscriber, doc.ProfessionalClaim]]:
    pairs: list[tuple[doc.Subscriber, doc.ProfessionalClaim]] = []
    for build in inputs:
        billing = build()
        for decision in (claimable(billing, d) for d in billing.decide()):
            if decision.billed:
                pairs.append(build_claim(billing, decision, claim_number()))
    return pairs


def write_files(pairs: list[tuple[doc.Subscriber, doc.ProfessionalClaim]], per_file: int) -> list[str]:
    now = datetime.now(UTC).replace(tzinfo=None)
    return [write_837p(replace(batch, created_at=now)) for batch in make_batches(pairs, per_file)]


# -- the database pipeline


def rounds(plan: Plan, per_file: int) -> list[list[uuid.UUID]]:
    """The sessions in close order, cut so that no payer has more than `per_file` claims waiting at a
    submission (a submission sends every READY claim of a payer as one file, at most 5,000 claims)."""
    payer = {r["client_id"]: r["payer_id"] for r in plan.rows[ClientCoverage]}
    events: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for r in plan.rows[BillableEvent]:
        events[r["session_id"]].append(payer[r["client_id"]])
    chunks: list[list[uuid.UUID]] = [[]]
    waiting: Counter[uuid.UUID] = Counter()
    for sid in plan.sessions:
        waiting.update(events[sid])
        if chunks[-1] and max(waiting.values()) > per_file:
            chunks.append([])
            waiting = Counter(events[sid])
        chunks[-1].append(sid)
    return chunks


@dataclass
class Run:
    """One clinic's produce -> submit rounds: seconds spent in each, per-session seconds, what was sent."""

    schema: str
    threads: int
    validate: bool
    batch: int  # closed sessions per job (the worker takes up to BATCH_SESSIONS waiting ones)
    processes: int = 0  # >0: jobs run in that many processes (worker processes), not threads
    produce: float = 0.0
    submit: float = 0.0
    per_session: list[float] = field(default_factory=list)
    files: int = 0
    claims: int = 0
    largest: int = 0


_process_engine: Engine | None = None


def _start_process(url: str) -> None:
    global _process_engine
    _process_engine = connect(url, pool_size=1).engine


def produce_job(schema: str, job: list[uuid.UUID], engine: Engine | None = None) -> float:
    """One worker job: `produce_claims_many` in its own transaction; seconds per session."""
    start = time.perf_counter()
    bind = engine or _process_engine
    assert bind is not None
    with tenant_session(bind, schema) as session:
        produce_claims_many(session, job)
    return (time.perf_counter() - start) / len(job)


def produce_round(
    run: Run, engine: Engine, sessions: list[uuid.UUID], pool: ThreadPoolExecutor | ProcessPoolExecutor | None
) -> None:
    """`produce_claims_many` for every job of `run.batch` sessions, each in its own transaction as the
    worker runs it (in the pool's threads or processes when given)."""
    jobs = [sessions[i : i + run.batch] for i in range(0, len(sessions), run.batch)]
    start = time.perf_counter()
    if isinstance(pool, ProcessPoolExecutor):
        run.per_session += pool.map(produce_job, [run.schema] * len(jobs), jobs)
    elif pool is not None:
        run.per_session += pool.map(lambda job: produce_job(run.schema, job, engine), jobs)
    else:
        run.per_session += [produce_job(run.schema, job, engine) for job in jobs]
    run.produce += time.perf_counter() - start


def submit_round(run: Run, engine: Engine, folder: Path) -> None:
    """`submit_ready_claims` (committed); without validation, pyx12 is swapped for a no-op here only."""
    no_pyx12 = mock.patch.object(submission, "pyx12_errors", return_value=[])
    with nullcontext() if run.validate else no_pyx12:
        start = time.perf_counter()
        with tenant_session(engine, run.schema) as session:
            batches = submission.submit_ready_claims(session, FileDropClearinghouse(folder / run.schema))
        run.submit += time.perf_counter() - start
    run.files += len(batches)
    run.claims += sum(b.claim_count for b in batches)
    run.largest = max([run.largest, *(b.claim_count for b in batches)])


def warm_up(engine: Engine, schema: str, session_id: uuid.UUID) -> None:
    """Compile and cache the engine's statements once, then leave nothing behind."""
    with Session(tenant_engine(engine, schema)) as session:
        produce_claims(session, session_id)
        session.rollback()


def count_claims(engine: Engine, schema: str, status: ClaimStatus) -> int:
    with tenant_session(engine, schema) as session:
        return int(session.scalar(select(func.count()).select_from(Claim).where(Claim.status == status)) or 0)


def line(label: str, claims: int, seconds: float, extra: str = "") -> None:
    print(f"  {label:<36}{seconds:8.2f} s {claims / seconds:8.0f} claims/s{extra}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--member-sessions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--per-file", type=int, default=1_000)
    parser.add_argument("--batch", type=int, default=BATCH_SESSIONS, help="closed sessions per job")
    parser.add_argument("--profile", action="store_true", help="profile the batched 1-thread produce run")
    args = parser.parse_args()
    plan = make_plan(args.member_sessions)
    sessions = len(plan.sessions)
    members = len(plan.rows[SessionAttendee])

    # 1. Pure: attendance -> decisions -> claims -> 837P files.
    inputs = pure_inputs(plan)
    pairs = pure_claims(inputs)  # warm-up
    write_files(pairs, args.per_file)
    build_s, write_s, total_s = [], [], []
    for _ in range(args.runs):
        start = time.perf_counter()
        pairs = pure_claims(inputs)
        built = time.perf_counter()
        write_files(pairs, args.per_file)
        done = time.perf_counter()
        build_s.append(built - start)
        write_s.append(done - built)
        total_s.append(done - start)
    claims = len(pairs)
    print(f"billing pipeline, {members} member-sessions ({sessions} sessions of {MEMBERS}), {claims} claims")
    print(f"1. pure (no database), median of {args.runs} runs, 837P files of {args.per_file} claims")
    line("decisions + claims built", claims, statistics.median(build_s))
    line("write_837p (checks included)", claims, statistics.median(write_s))
    line("attendance -> 837P files", claims, statistics.median(total_s))

    # 2. The database: two clinics seeded alike (1 thread in one, 2 in the other).
    with fresh_database(load_settings(), pool_size=2) as db:
        runs = [
            Run("", 1, validate=True, batch=1),  # one session per job, pyx12 (as before batching)
            Run("", 1, validate=True, batch=args.batch),  # production: batched jobs, pyx12
            Run("", 1, validate=False, batch=args.batch),
            Run("", 2, validate=False, batch=args.batch),
            Run("", 2, validate=False, batch=args.batch, processes=2),
        ]
        for n, run in enumerate(runs):
            run.schema = provision_tenant(db.engine, f"bench-billing-{n}", "Bench").schema_name
        schemas = [run.schema for run in runs]
        start = time.perf_counter()
        for schema in schemas:
            with tenant_session(db.engine, schema) as session:
                seed(session, plan)
        seeded = time.perf_counter() - start
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        for schema in schemas:
            warm_up(db.engine, schema, plan.sessions[0])
        pyx12_errors(write_files(pairs[:10], 10)[0])  # pyx12 imported and its maps read once
        chunks = rounds(plan, args.per_file)
        profile = cProfile.Profile() if args.profile else None
        processes = ProcessPoolExecutor(
            2, mp_context=multiprocessing.get_context("spawn"), initializer=_start_process, initargs=(db.url,)
        )
        list(processes.map(time.sleep, [0.5, 0.5]))  # both processes started and imported
        with tempfile.TemporaryDirectory() as folder, ThreadPoolExecutor(2) as threads, processes:
            for chunk in chunks:
                for run in runs:
                    profiled = profile is not None and run is runs[1]
                    if profiled:
                        profile.enable()
                    pool = processes if run.processes else threads if run.threads == 2 else None
                    produce_round(run, db.engine, chunk, pool)
                    if profiled:
                        profile.disable()
                    submit_round(run, db.engine, Path(folder))
        print(
            f"2. database ({seeded:.1f} s to seed {len(runs)} clinics, untimed), one run each:"
            f" {len(chunks)} rounds"
        )
        print(
            f"   of produce_claims then submit_ready_claims (at most {args.per_file} claims per payer file)"
        )
        for run in runs:
            label = f"produce, {run.threads} {'processes' if run.processes else 'thread(s)'}, {run.batch}/job"
            ms = f"   {statistics.median(run.per_session) * 1000:.1f} ms/session median"
            line(label, claims, run.produce, ms)
        for run in runs:
            pyx12 = "pyx12" if run.validate else "no pyx12"
            line(f"submit, {pyx12} ({run.files} files)", run.claims, run.submit, f"   largest {run.largest}")
        print("  end to end (produce + submit)")
        for run in runs:
            pyx12 = "pyx12" if run.validate else "no pyx12"
            unit = "processes" if run.processes else "thread(s)"
            line(f"  {run.threads} {unit}, {run.batch}/job, {pyx12}", run.claims, run.produce + run.submit)
        produced = [count_claims(db.engine, schema, ClaimStatus.SUBMITTED) for schema in schemas]
        if produced != [claims] * len(runs):
            print(f"  MISMATCH: {claims} claims expected, {produced} submitted")
        if profile:
            out = io.StringIO()
            stats = pstats.Stats(profile, stream=out).strip_dirs()
            stats.sort_stats("cumulative").print_stats(30)
            stats.sort_stats("tottime").print_stats(15)
            print(out.getvalue())


if __name__ == "__main__":
    main()
