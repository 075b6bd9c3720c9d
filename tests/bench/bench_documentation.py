"""Benchmark: the documentation view and documenting a 12-member session. Not collected by pytest.

    python -m tests.bench.bench_documentation [--runs 30] [--write-runs 5]

Creates a throwaway database on DATABASE_URL (default: the embedded server) and drops it after.

1. The documentation view: one GraphQL request with `sessionRecord` (session, group note, roster with
   attendance and sections, signers, observations, addenda) and `preSessionBrief` (each member's last
   4 sessions, last section, open risk flags, authorization, visit cap; the last group note), for
   rosters of 4, 8 and 12 members with 6 earlier weekly sessions each (final records with sections,
   flags, authorizations, coverage caps, billable events). Prints the SQL statements per request
   (SQLAlchemy `before_cursor_execute` on the app's engine: must be equal for 4, 8 and 12), then the
   median GraphQL latency (the app over an in-process ASGI transport in one event loop, as uvicorn
   runs it; HTTP and auth included) next to a raw psycopg fetch of the same rows (same statements, no
   privacy filter, no mapping) in the same run; the request's own SELECTs replayed over the raw
   connection (the database cost of its privacy and Part 2 filters, the floor of any code above the
   SQL); and the floor of the stack: the same request with the view's two reads answered from memory
   (HTTP, sign-in, the relation check, audit capture and GraphQL completion of the same response).
2. Documenting: recordAttendance for 12 members + 12 saveMemberSection (genuinely individual texts
   from tests/documentation/corpus/member_sections.json) + saveGroupNote + signSessionRecord (which
   runs the individuality and name checks and closes the record), each run on a fresh session with
   fresh members; prints the median of the whole sequence and of the signature alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import psycopg
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import Session

from backend.app import create_app
from backend.clients.models import Authorization, ClientCoverage
from backend.clients.rules import CoveragePriority
from backend.database import Database
from backend.documentation.individuality import section_text
from backend.documentation.models import BillableEvent, RiskFlag
from backend.documentation.names import MemberName, find_member_names
from backend.documentation.signoff import RecordStatus
from backend.documentation.templates import RiskLevel
from backend.enrollment.rules import Attendance
from backend.graphql import documentation_reads, session_record
from backend.programs.models import Modality
from backend.settings import load_settings
from backend.tenants.provisioning import provision_tenant
from backend.tenants.routing import tenant_session
from backend.treatment.models import GoalStatus, PlanStatus, TreatmentGoal, TreatmentPlan
from tests.documentation.test_privacy_matrix import add_client, add_record, add_session, add_staff
from tests.support import fresh_database, make_account
from tests.waitlist.factories import make_program

CORPUS = Path(__file__).resolve().parent.parent / "documentation" / "corpus" / "member_sections.json"
ROSTERS = (4, 8, 12)
EARLIER = 6
VIEW = """query($id: ID!) {
  sessionRecord(sessionId: $id) {
    sessionId status groupNote groupNoteWithheld
    members { clientId firstName lastName attendance minutesAttended section { content } sectionWithheld }
    signers { staffId displayName signedAt } observations { text } addenda { text }
  }
  preSessionBrief(sessionId: $id) {
    members { clientId
      recentAttendance { sessionId startsAt attendance }
      lastSection { sessionId content withheld }
      riskFlags { level raisedAt }
      authorization { remaining endsOn } authorizationExpiringSoon
      visitCap { visitCap visitsUsedThisYear } }
    lastGroupNote { sessionId content }
  }
}"""
BASELINE = "query { me { userId } }"
RECORD_ONLY = VIEW.split("  preSessionBrief")[0] + "}"
BRIEF_ONLY = "query($id: ID!) {\n  preSessionBrief" + VIEW.split("  preSessionBrief")[1]
ERRORS = "... on UserError { field code message } ... on InvalidInput { errors { field code } }"
RECORD_ATTENDANCE = (
    "mutation($input: RecordAttendanceInput!) { recordAttendance(input: $input) { __typename "
    + ERRORS
    + " } }"
)
SAVE_SECTION = (
    "mutation($input: SaveMemberSectionInput!) { saveMemberSection(input: $input) { __typename "
    + ERRORS
    + " } }"
)
SAVE_NOTE = (
    "mutation($input: SaveGroupNoteInput!) { saveGroupNote(input: $input) { __typename " + ERRORS + " } }"
)
SIGN = (
    "mutation($id: ID!) { signSessionRecord(sessionId: $id) { __typename "
    + "... on RecordSigned { record { status } } "
    + "... on SigningBlocked { code individuality { pairs { score } } nameMentions { clientId } } "
    + ERRORS
    + " } }"
)
GROUP_NOTE = {
    "theme": "Catching and challenging automatic thoughts",
    "activities": "Review of the thought record; pairs practised finding evidence for and against.",
    "interventions": "Socratic questioning, modelling a balanced thought, a behavioural experiment.",
    "group_process": "Members engaged quickly; two members supported each other when examples were painful.",
}

# The same rows the view reads, in plain SQL without the privacy filter (the floor of any design).
RAW = [
    "SELECT s.*, p.*, r.* FROM sessions s LEFT JOIN programs p ON p.id = s.program_id "
    "LEFT JOIN session_records r ON r.session_id = s.id WHERE s.id = %(sid)s",
    "SELECT a.*, c.first_name, c.last_name, ms.* FROM session_attendees a "
    "JOIN clients c ON c.id = a.client_id "
    "LEFT JOIN member_sections ms ON ms.session_id = a.session_id AND ms.client_id = a.client_id "
    "WHERE a.session_id = %(sid)s ORDER BY c.last_name, c.first_name, c.id",
    "SELECT f.*, st.display_name, sig.* FROM session_facilitators f JOIN staff st ON st.id = f.staff_id "
    "LEFT JOIN record_signatures sig ON sig.session_id = f.session_id AND sig.staff_id = f.staff_id "
    "WHERE f.session_id = %(sid)s",
    "SELECT * FROM facilitator_observations WHERE session_id = %(sid)s",
    "SELECT * FROM record_addenda WHERE session_id = %(sid)s",
    "SELECT * FROM supervision_notes WHERE session_id = %(sid)s",
    "SELECT * FROM (SELECT a.client_id, s.id, s.kind, s.starts_at, p.name, a.attendance, a.minutes_attended, "
    "row_number() OVER (PARTITION BY a.client_id ORDER BY s.starts_at DESC) AS n FROM session_attendees a "
    "JOIN sessions s ON s.id = a.session_id LEFT JOIN programs p ON p.id = s.program_id "
    "WHERE a.client_id = ANY(%(ids)s) AND s.starts_at < %(before)s AND s.status <> 'cancelled') x "
    "WHERE n <= 4",
    "SELECT * FROM (SELECT ms.client_id, ms.session_id, s.starts_at, ms.content, row_number() OVER "
    "(PARTITION BY ms.client_id ORDER BY s.starts_at DESC) AS n FROM member_sections ms "
    "JOIN sessions s ON s.id = ms.session_id WHERE ms.client_id = ANY(%(ids)s) AND ms.scope = 'member' "
    "AND s.starts_at < %(before)s) x WHERE n = 1",
    "SELECT * FROM risk_flags WHERE client_id = ANY(%(ids)s) AND resolved_at IS NULL",
    "SELECT DISTINCT ON (client_id) * FROM authorizations WHERE client_id = ANY(%(ids)s) "
    "AND starts_on <= %(on)s AND ends_on >= %(on)s "
    "ORDER BY client_id, sessions_used >= sessions_authorized, ends_on",
    "SELECT c.*, (SELECT count(*) FROM billable_events b WHERE b.client_id = c.client_id "
    "AND b.service_date BETWEEN %(jan1)s AND %(dec31)s) FROM client_coverages c "
    "WHERE c.client_id = ANY(%(ids)s) AND c.priority = 'primary'",
    "SELECT s.id, s.starts_at, r.group_note FROM sessions s JOIN session_records r ON r.session_id = s.id "
    "WHERE s.program_id = %(pid)s AND s.starts_at < %(before)s AND r.status = 'final' "
    "ORDER BY s.starts_at DESC LIMIT 1",
]


def corpus_members(count: int) -> list[dict[str, Any]]:
    """`count` corpus members with distinct names whose texts name none of the others (round robin over
    the sessions, skipping the template-cloned one), so signing is blocked by nothing but a bug."""
    corpus = json.loads(CORPUS.read_text(encoding="utf-8"))
    sessions = [s["members"] for s in corpus["sessions"] if "template" not in s["id"]]
    chosen: list[dict[str, Any]] = []
    for i in range(max(len(s) for s in sessions)):
        for members in sessions:
            if i >= len(members) or len(chosen) == count:
                continue
            candidate = members[i]
            if candidate["content"]["attendance"] != "present":
                continue
            trial = [*chosen, candidate]
            names = [MemberName(m["key"], m["firstName"], m["lastName"]) for m in trial]
            clash = any(find_member_names(m["key"], section_text(m["content"]), names) for m in trial) or len(
                {m["lastName"] for m in trial}
            ) < len(trial)
            if not clash:
                chosen.append(candidate)
    assert len(chosen) == count, "the corpus has too few compatible members"
    return chosen


def section_content(corpus_content: dict[str, Any], goals: list[str]) -> dict[str, object]:
    """The corpus section in the CBT template's member fields, rating the member's own goals."""
    return {
        "participation": corpus_content["participation"],
        "response_to_interventions": corpus_content["response"],
        "goal_progress": [
            {"goalId": goal, "progress": g["progress"], "note": g.get("note")}
            for goal, g in zip(goals, corpus_content["goals"], strict=True)
        ],
        "homework_review": corpus_content.get("homework"),
        "risk": corpus_content["risk"],
        "plan": corpus_content["plan"],
    }


@contextmanager
def reads_from_memory() -> Iterator[None]:
    """The view's two reads (`read_record`, `read_brief`) answered with the objects their first call
    returned: what the request costs besides reading the rows (the floor of this stack)."""
    originals = (session_record.read_record, documentation_reads.read_brief)
    kept: dict[str, Any] = {}

    def remembered(name: str, read: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def answer(*args: Any, **kwargs: Any) -> Any:
            if name not in kept:
                kept[name] = await read(*args, **kwargs)
            return kept[name]

        return answer

    session_record.read_record = remembered("record", originals[0])  # type: ignore[assignment]
    documentation_reads.read_brief = remembered("brief", originals[1])  # type: ignore[assignment]
    try:
        yield
    finally:
        session_record.read_record, documentation_reads.read_brief = originals


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def seed_view(session: Session, staff_id: uuid.UUID, size: int, now: datetime) -> dict[str, Any]:
    """A CBT group with `size` members, EARLIER final weekly sessions and today's, documented."""
    program = make_program(session, name=f"CBT group of {size}", modality=Modality.CBT)
    members = [add_client(session, f"First{size}x{i}", f"Last{i:02d}") for i in range(size)]
    current_start = now - timedelta(hours=3)
    sessions = []
    for week in range(EARLIER, 0, -1):
        starts = current_start - timedelta(weeks=week)
        marks = {
            m: (Attendance.NO_SHOW if (i + week) % 5 == 0 else Attendance.PRESENT)
            for i, m in enumerate(members)
        }
        sid = add_session(session, program.id, starts, [staff_id], marks)
        sections = {
            m: {"participation": f"Member {i} in week {week}: own words."} for i, m in enumerate(members)
        }
        add_record(
            session, sid, {"theme": f"Week {week}"}, sections, RecordStatus.FINAL, starts + timedelta(hours=2)
        )
        sessions.append(sid)
        for m, mark in marks.items():
            if mark == Attendance.PRESENT:
                session.add(
                    BillableEvent(
                        id=uuid.uuid4(), session_id=sid, client_id=m, service_date=starts.date(),
                        attendance=mark, minutes_attended=90, session_minutes=90, present_count=size,
                        telehealth=False, cpt="90853",
                    )
                )  # fmt: skip
    current = add_session(
        session, program.id, current_start, [staff_id], dict.fromkeys(members, Attendance.PRESENT)
    )
    add_record(
        session,
        current,
        GROUP_NOTE,
        {m: {"participation": f"Member {i} today."} for i, m in enumerate(members)},
    )
    today = now.date()
    for i, m in enumerate(members):
        session.add(RiskFlag(id=uuid.uuid4(), client_id=m, session_id=sessions[-1], level=RiskLevel.MODERATE))
        coverage = ClientCoverage(
            id=uuid.uuid4(), client_id=m, priority=CoveragePriority.PRIMARY, payer_name="Payer",
            member_id=f"M{i}", visit_cap=30,
        )  # fmt: skip
        session.add(coverage)
        session.flush()
        session.add(
            Authorization(
                id=uuid.uuid4(), client_id=m, coverage_id=coverage.id, reference=f"PA-{i}",
                sessions_authorized=24, sessions_used=i, starts_on=today - timedelta(days=60),
                ends_on=today + timedelta(days=10 * i),
            )
        )  # fmt: skip
    session.flush()
    return {"sid": current, "ids": members, "before": current_start, "pid": program.id}


def seed_write(
    session: Session, staff_id: uuid.UUID, program_id: uuid.UUID, members: list[dict[str, Any]]
) -> tuple[uuid.UUID, dict[uuid.UUID, dict[str, object]]]:
    """A session that started 2 hours ago with 12 fresh members, each with an active plan and goals."""
    now = datetime.now(UTC).replace(microsecond=0)
    contents: dict[uuid.UUID, dict[str, object]] = {}
    clients = []
    for m in members:
        client_id = add_client(session, m["firstName"], m["lastName"])
        plan = TreatmentPlan(
            id=uuid.uuid4(), client_id=client_id, modality="cbt", status=PlanStatus.ACTIVE,
            starts_on=date(2026, 1, 5),
        )  # fmt: skip
        session.add(plan)
        session.flush()
        goals = []
        for position, _ in enumerate(m["content"]["goals"]):
            goal = TreatmentGoal(
                id=uuid.uuid4(), plan_id=plan.id, description="Goal", target="Measured weekly",
                status=GoalStatus.ACTIVE, position=position,
            )  # fmt: skip
            session.add(goal)
            goals.append(str(goal.id))
        clients.append(client_id)
        contents[client_id] = section_content(m["content"], goals)
    session.flush()
    sid = add_session(session, program_id, now - timedelta(hours=2), [staff_id], dict.fromkeys(clients))
    return sid, contents


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--write-runs", type=int, default=5)
    args = parser.parse_args()

    settings = load_settings()
    with fresh_database(settings) as db:
        clinic = provision_tenant(db.engine, "bench-docs", "Bench")
        account = make_account(db, settings, clinic, ["clinician"])
        now = datetime.now(UTC).replace(microsecond=0)
        with tenant_session(db.engine, clinic.schema_name) as session:
            staff_id = add_staff(session, "Facilitator", account.user_id)
            views = {size: seed_view(session, staff_id, size, now) for size in ROSTERS}
            write_program = make_program(session, name="CBT write bench", modality=Modality.CBT).id
        app_engine = create_async_engine(db.url, pool_size=5)
        statements = 0
        captured: list[tuple[str, Any]] | None = None

        @event.listens_for(app_engine.sync_engine, "before_cursor_execute")
        def count(_conn: Any, _cursor: Any, sql: str, parameters: Any, *_: Any) -> None:
            nonlocal statements
            statements += 1
            if captured is not None:
                captured.append((sql, parameters))

        app = create_app(settings, Database(db.url, db.engine, app_engine))
        headers = {"Authorization": f"Bearer {account.token}"}
        raw_url = make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)
        # One event loop for the whole run, as under uvicorn: a TestClient would add a thread hop per
        # request (about 4 ms on this machine) that the app never pays in production.
        with (
            asyncio.Runner() as loop,
            psycopg.connect(raw_url, autocommit=True) as raw,
        ):
            raw.execute(f'SET search_path TO "{clinic.schema_name}", public')
            http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")

            def post(query: str, variables: dict[str, Any]) -> dict[str, Any]:
                answer = loop.run(
                    http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
                )
                body = dict(answer.json())
                assert "errors" not in body, body
                return dict(body["data"])

            def view(size: int, query: str = VIEW) -> dict[str, Any]:
                return post(query, {"id": str(views[size]["sid"])} if "$id" in query else {})

            def raw_fetch(size: int) -> int:
                v = views[size]
                on = v["before"].date()
                params = {
                    "sid": v["sid"], "ids": v["ids"], "before": v["before"], "pid": v["pid"], "on": on,
                    "jan1": date(on.year, 1, 1), "dec31": date(on.year, 12, 31),
                }  # fmt: skip
                rows = 0
                for sql in RAW:
                    rows += len(raw.execute(sql, params).fetchall())
                return rows

            print(f"documentation view (sessionRecord + preSessionBrief), {EARLIER} earlier sessions each")
            for size in ROSTERS:
                view(size)  # warm-up
                statements = 0
                data = view(size)
                members = data["preSessionBrief"]["members"]
                assert len(members) == size and all(len(m["recentAttendance"]) == 4 for m in members)
                assert all(m["lastSection"]["content"] for m in members)
                print(
                    f"  roster {size:>2}: {statements} SQL statements per request "
                    f"({raw_fetch(size)} raw rows)"
                )
            # The request's own SELECTs (sign-in, relation check, Part 2 standing and the privacy-filtered
            # reads), replayed over the raw connection: their database and driver cost with no Python
            # around them, which no change above the SQL can go below.
            captured = []
            view(12)
            replayed = [(sql, p) for sql, p in captured if sql.lstrip().upper().startswith("SELECT")]
            captured = None

            def replay() -> None:
                for sql, parameters in replayed:
                    raw.execute(sql, parameters).fetchall()

            graphql_ms, raw_ms, replay_ms = [], [], []
            for _ in range(args.runs):  # interleaved, so all three see the same machine state
                graphql_ms += timed(lambda: view(12), 1)
                raw_ms += timed(lambda: raw_fetch(12), 1)
                replay_ms += timed(replay, 1)
            g, r, s = (statistics.median(x) for x in (graphql_ms, raw_ms, replay_ms))
            print(
                f"  roster 12 latency over {args.runs} runs: GraphQL median {g:.1f} ms "
                f"(p90 {statistics.quantiles(graphql_ms, n=10)[-1]:.1f}), "
                f"raw psycopg fetch median {r:.1f} ms "
                f"-> {g / r:.1f}x"
            )
            print(
                f"    the request's {len(replayed)} SELECTs replayed raw median {s:.1f} ms -> {s / r:.1f}x "
                "the raw fetch: the privacy and Part 2 filters' own database cost"
            )

            for label, query in (
                ("signed-in baseline (me)", BASELINE),
                ("sessionRecord alone", RECORD_ONLY),
                ("preSessionBrief alone", BRIEF_ONLY),
            ):
                part = timed(lambda q=query: view(12, q), args.runs)  # type: ignore[misc]
                print(f"    {label:<32} median {statistics.median(part):.1f} ms")
            with reads_from_memory():
                floor_ms, floor_raw_ms = [], []
                for _ in range(args.runs):
                    floor_ms += timed(lambda: view(12), 1)
                    floor_raw_ms += timed(lambda: raw_fetch(12), 1)
            f, fr = statistics.median(floor_ms), statistics.median(floor_raw_ms)
            print(
                f"    {'view, its reads from memory':<32} median {f:.1f} ms -> {f / fr:.1f}x the raw fetch "
                f"({fr:.1f} ms): HTTP, sign-in, relation check, audit and GraphQL alone"
            )

            chosen = corpus_members(12)
            totals, signs = [], []
            for _ in range(args.write_runs):
                with tenant_session(db.engine, clinic.schema_name) as session:
                    sid, contents = seed_write(session, staff_id, write_program, chosen)

                def call(query: str, variables: dict[str, Any], key: str) -> dict[str, Any]:
                    return dict(post(query, variables)[key])

                started = time.perf_counter()
                entries = [{"clientId": str(c), "status": "PRESENT"} for c in contents]
                done = call(
                    RECORD_ATTENDANCE,
                    {"input": {"sessionId": str(sid), "entries": entries}},
                    "recordAttendance",
                )
                assert done["__typename"] == "AttendanceRecorded", done
                for client_id, content in contents.items():
                    saved = call(
                        SAVE_SECTION,
                        {"input": {"sessionId": str(sid), "clientId": str(client_id), "content": content}},
                        "saveMemberSection",
                    )
                    assert saved["__typename"] == "RecordSaved", saved
                saved = call(
                    SAVE_NOTE, {"input": {"sessionId": str(sid), "content": GROUP_NOTE}}, "saveGroupNote"
                )
                assert saved["__typename"] == "RecordSaved", saved
                sign_started = time.perf_counter()
                signed = call(SIGN, {"id": str(sid)}, "signSessionRecord")
                finished = time.perf_counter()
                assert signed["__typename"] == "RecordSigned" and signed["record"]["status"] == "FINAL", (
                    signed
                )
                totals.append((finished - started) * 1000)
                signs.append((finished - sign_started) * 1000)
            print(
                f"12 members: attendance + 12 sections + group note + signature (14 requests), "
                f"median over {args.write_runs} runs {statistics.median(totals):.0f} ms "
                f"(signature alone {statistics.median(signs):.0f} ms)"
            )
            loop.run(http.aclose())


if __name__ == "__main__":
    main()
