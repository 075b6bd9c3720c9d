"""From an empty clinic to professional claims (837P) using only what SPA clients send.

Every step is a `.graphql` document of frontend_contract/operations run by operation name (as in
tests/test_group_lifecycle.py): billing setup, a program with a session that has already happened,
two members registered and enrolled, attendance marked once, the record documented and signed by the
facilitator, then a Dramatiq worker (StubBroker) processes the outbox. The biller then reads, through
the contract, one claim per present member priced by the payer's rules and sent in an 837P batch.
This is the product's core promise: attendance marked once drives documentation and claims.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from dramatiq.brokers.stub import StubBroker

from backend.database import Database
from backend.settings import Settings
from backend.tenants.models import Tenant
from tests.billing.test_billing_graphql import PROVIDER, drop  # noqa: F401  (drop: the clearinghouse folder)
from tests.support import GraphQLClient, make_account
from tests.test_group_lifecycle import ContractClient, broker, run_worker, staff_app  # noqa: F401

#: The payer's rules in force: HQ for the group setting, AJ for an LCSW rendering, $45.00 a session.
RULES = {
    "group_modifier": "HQ",
    "credential_modifiers": {"LCSW": "AJ"},
    "min_minutes_attended": 45,
    "fee_schedule": {"90853": "45.00"},
}
FACILITATOR_NPI = "1987654328"
GROUP_NOTE = {
    "theme": "Rebuilding routines after a depressive episode",
    "activities": "Check-in round, a structured exercise on weekly activity scheduling, closing round.",
    "interventions": "Behavioural activation framing, Socratic questions, linking members' experiences.",
    "group_process": "Members warmed up after the check-in; the pair work drew the quieter members in.",
}
#: Each member's own section (individual wording, so the individuality check lets the record be signed).
MEMBERS = {
    "Maya": {
        "participation": "Described three mornings spent in bed; named the kitchen as the hardest room.",
        "response_to_interventions": "Took up activity scheduling and drafted a two-step morning plan.",
        "progress": "improved",
        "risk": {"level": "low", "note": "Denies suicidal ideation; protective factors: sister, dog."},
        "plan": "Try the two-step morning plan on four days; report back next session.",
    },
    "Owen": {
        "participation": "Quiet at first; later spoke about losing interest in cycling since the layoff.",
        "response_to_interventions": "Questioned whether scheduling would help, then agreed to a trial ride.",
        "progress": "unchanged",
        "risk": {"level": "low", "note": "No ideation reported; engaged with his brother weekly."},
        "plan": "One twenty-minute ride before Thursday; rate mood before and after.",
    },
}


def ok(result: dict[str, Any], typename: str) -> dict[str, Any]:
    """A mutation's union answer, which must be `typename` (the answer is shown when it is not)."""
    assert result["__typename"] == typename, result
    return result


def sent_837(clearinghouse: Path) -> list[list[str]]:
    """The segments of each 837 file in the clinic's clearinghouse outbox (270 requests left out)."""
    files = [f.read_text() for f in sorted((clearinghouse / "outbox").glob("*.x12"))]
    return [text.strip().rstrip("~").split("~\n") for text in files if "~ST*837*" in text.replace("\n", "")]


def set_up_billing(
    admin: ContractClient, biller: ContractClient, clinician: ContractClient
) -> tuple[str, str]:
    """The billing provider, a payer with rules in force, the facilitator's staff record, NPI and
    credential. Returns (payer id, facilitator staff id)."""
    ok(
        biller.run("AddBillingProvider", "billing.graphql", input=PROVIDER)["addBillingProvider"],
        "BillingProviderResult",
    )
    payer = ok(
        biller.run(
            "AddPayer",
            "billing.graphql",
            input={
                "name": "Medicaid MCO",
                "payerCode": "MCD01",
                "claimFormat": "PROFESSIONAL",
                "filingIndicator": "MC",
            },
        )["addPayer"],
        "PayerResult",
    )["payer"]
    ok(
        biller.run(
            "AddPayerRuleVersion",
            "billing.graphql",
            input={"payerId": payer["id"], "effectiveFrom": "2020-01-01", "rules": RULES},
        )["addPayerRuleVersion"],
        "PayerResult",
    )
    # The staff record is linked to the clinician's sign-in, so that they can sign as the facilitator:
    # the admin finds it among the clinic's users (inviteUser answers it too, for someone new).
    (user_id,) = [
        u["userId"]
        for u in admin.run("ClinicUsers", "users.graphql")["clinicUsers"]
        if u["email"] == clinician.account.email
    ]
    staff = ok(
        admin.run(
            "CreateStaffMember", "scheduling.graphql", input={"displayName": "Dana Reyes", "userId": user_id}
        )["createStaffMember"],
        "StaffMember",
    )
    ok(
        admin.run(
            "SetStaffCredential", "scheduling.graphql", input={"staffId": staff["id"], "credential": "LCSW"}
        )["setStaffCredential"],
        "StaffMember",
    )
    ok(
        biller.run(
            "SetStaffNpi", "billing.graphql", staffId=staff["id"], npi=FACILITATOR_NPI, taxonomy="1041C0700X"
        )["setStaffNpi"],
        "SetupSaved",
    )
    return payer["id"], staff["id"]


def create_program_with_a_past_session(admin: ContractClient, facilitator: str) -> tuple[str, str, datetime]:
    """A one-session process group that began two hours ago (in UTC, the program's zone), in a room.
    Returns (program id, session id, session start)."""
    starts = (datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)
    day = starts.date()
    room = ok(
        admin.run("CreateRoom", "scheduling.graphql", input={"name": "Room 2", "capacity": 10})["createRoom"],
        "Room",
    )
    weekday = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][day.weekday()]
    created = ok(
        admin.run(
            "CreateProgram",
            "scheduling.graphql",
            input={
                "name": "Depression recovery group",
                "modality": "PROCESS",
                "kind": "OPEN",
                "levelOfCare": "OUTPATIENT",
                "capacity": 8,
                "therapeuticMinimum": 2,
                "defaultCpt": "90853",
                "sessionMinutes": 90,
                "startsOn": day.isoformat(),
                "endsOn": day.isoformat(),
                "rrule": f"FREQ=WEEKLY;BYDAY={weekday}",
                "firstStart": starts.replace(tzinfo=None).isoformat(),
                "timezone": "UTC",
                "leadFacilitatorId": facilitator,
                "roomId": room["id"],
            },
        )["createProgram"],
        "CreateProgramSuccess",
    )
    assert created["sessionsCreated"] == 1
    program_id = created["program"]["id"]
    (session,) = admin.run(
        "GetProgram", "scheduling.graphql", id=program_id, fromDate=day.isoformat(), toDate=day.isoformat()
    )["node"]["sessions"]
    return program_id, session["id"], starts


def register_member(
    desk: ContractClient,
    clinician: ContractClient,
    first: str,
    member_id: str,
    payer_id: str,
    program: str,
    day: date,
) -> tuple[str, str]:
    """Front desk registers the member (address, sex, primary coverage with its payer) and enrolls
    them; the clinician adds the diagnosis and a treatment plan. Returns (client id, goal id)."""
    registered = ok(
        desk.run(
            "RegisterClient",
            "clients.graphql",
            input={
                "firstName": first,
                "lastName": "Lopez",
                "dateOfBirth": "1991-03-04",
                "administrativeSex": "FEMALE" if first == "Maya" else "MALE",
                "address": {
                    "line1": "12 Elm St",
                    "city": "Portland",
                    "state": "ME",
                    "postalCode": "04101-1234",
                },
                "coverages": [
                    {
                        "priority": "PRIMARY",
                        "payerName": "Medicaid MCO",
                        "memberId": member_id,
                        "payerId": payer_id,
                    }
                ],
            },
        )["registerClient"],
        "RegisterClientSuccess",
    )
    client_id = registered["client"]["id"]
    noted = (day - timedelta(days=30)).isoformat()
    ok(
        clinician.run(
            "AddDiagnosis",
            "clients.graphql",
            input={"clientId": client_id, "diagnosis": {"code": "F33.1", "notedOn": noted, "primary": True}},
        )["addDiagnosis"],
        "ClientChanged",
    )
    plan = ok(
        clinician.run(
            "CreateTreatmentPlan",
            "treatment.graphql",
            input={
                "clientId": client_id,
                "modality": "PROCESS",
                "startsOn": noted,
                "goals": [
                    {"description": "Restore daily routine", "target": "Out of bed by 9 am on 5 days a week"}
                ],
            },
        )["createTreatmentPlan"],
        "TreatmentPlanResult",
    )["plan"]
    ok(
        desk.run(
            "EnrollClient",
            "enrollment.graphql",
            input={"programId": program, "clientId": client_id, "startsOn": day.isoformat()},
        )["enrollClient"],
        "EnrollmentCreated",
    )
    return client_id, plan["goals"][0]["id"]


def document_and_sign(
    clinician: ContractClient, session_id: str, members: dict[str, tuple[str, str]]
) -> None:
    """Both members present; the group note and each member's own section; the facilitator signs."""
    entries = [{"clientId": client_id, "status": "PRESENT"} for client_id, _ in members.values()]
    ok(
        clinician.run(
            "RecordAttendance", "enrollment.graphql", input={"sessionId": session_id, "entries": entries}
        )["recordAttendance"],
        "AttendanceRecorded",
    )
    ok(
        clinician.run(
            "SaveGroupNote", "session_record.graphql", input={"sessionId": session_id, "content": GROUP_NOTE}
        )["saveGroupNote"],
        "RecordSaved",
    )
    for first, (client_id, goal_id) in members.items():
        text = MEMBERS[first]
        content = {
            "participation": text["participation"],
            "response_to_interventions": text["response_to_interventions"],
            "goal_progress": [{"goalId": goal_id, "progress": text["progress"], "note": text["plan"]}],
            "risk": text["risk"],
            "plan": text["plan"],
        }
        ok(
            clinician.run(
                "SaveMemberSection",
                "session_record.graphql",
                input={"sessionId": session_id, "clientId": client_id, "content": content},
            )["saveMemberSection"],
            "RecordSaved",
        )
    signed = ok(
        clinician.run("SignSessionRecord", "session_record.graphql", sessionId=session_id)[
            "signSessionRecord"
        ],
        "RecordSigned",
    )
    assert signed["record"]["status"] == "FINAL", "the only facilitator's signature makes the record final"


def test_attendance_marked_once_in_a_new_clinic_becomes_one_professional_claim_per_present_member(
    staff_app: GraphQLClient,  # noqa: F811
    broker: StubBroker,  # noqa: F811
    drop: Path,  # noqa: F811
    database: Database,
    settings: Settings,
    make_clinic: Callable[..., Tenant],
) -> None:
    """Two members present at a signed session: each gets exactly one 90853 claim (HQ, AJ; $45.00)
    with a billed decision, and the claims go out in the payer's 837P batch."""
    clinic = make_clinic()

    def signed_in(*roles: str) -> ContractClient:
        return ContractClient(staff_app, make_account(database, settings, clinic, list(roles)))

    admin, biller = signed_in("tenant_admin"), signed_in("biller")
    desk, clinician = signed_in("front_desk"), signed_in("clinician")

    payer_id, facilitator = set_up_billing(admin, biller, clinician)
    program_id, session_id, starts = create_program_with_a_past_session(admin, facilitator)
    members = {
        first: register_member(desk, clinician, first, member_id, payer_id, program_id, starts.date())
        for first, member_id in (("Maya", "MCD000111"), ("Owen", "MCD000222"))
    }
    run_worker(broker)  # welcome notices, eligibility requests (270) made on enrollment
    document_and_sign(clinician, session_id, members)

    run_worker(broker)  # billing.session_closed -> decisions and claims -> billing.submit_claims

    billing = biller.run("SessionBilling", "billing.graphql", sessionId=session_id)["sessionBilling"]
    # Each answer names its member's record, whose id is the one registerClient gave.
    present = {client_id for client_id, _ in members.values()}
    decisions = {d["client"]["id"]: d for d in billing["decisions"]}
    assert set(decisions) == present
    for decision in decisions.values():
        assert decision["billed"] is True, decision["reasons"]
        assert (decision["code"], decision["modifiers"], decision["placeOfService"]) == (
            "90853",
            ["HQ", "AJ"],
            "11",
        )
        assert (decision["units"], decision["charge"]) == (1, "45.00")
        # No 271 has come back yet: billed, with a note (not a blocking reason) saying so.
        assert [(r["code"], r["blocking"]) for r in decision["reasons"]] == [("eligibility_unknown", False)]
    claims = billing["claims"]
    assert sorted(c["client"]["id"] for c in claims) == sorted(present), (
        "exactly one claim per present member"
    )
    assert {c["client"]["firstName"] for c in claims} == set(members)
    for client_id, _ in members.values():
        (claim,) = biller.run("MemberClaims", "billing.graphql", clientId=client_id)["memberClaims"]
        assert (claim["sessionId"], claim["serviceDate"]) == (session_id, starts.date().isoformat())
        assert (claim["procedure"], claim["modifiers"], claim["frequency"]) == ("90853", ["HQ", "AJ"], "1")
        assert claim["totalCharge"] == "45.00" and claim["warnings"] == []
        # The claim was made READY, and the same worker run sent it (billing.submit_claims follows
        # billing.session_closed), so a biller finds it SUBMITTED, in the batch below.
        assert claim["status"] == "SUBMITTED", claim

    (batch,) = sent_837(drop / clinic.schema_name)  # one professional batch for the payer
    assert sorted(c["claimNumber"] for c in claims) == sorted(
        line.split("*")[1] for line in batch if line.startswith("CLM*")
    )
    assert [line for line in batch if line.startswith("SV1*")] == ["SV1*HC:90853:HQ:AJ*45*UN*1***1"] * 2
    assert [line for line in batch if line.startswith("HI*")] == ["HI*ABK:F331"] * 2
    rendering = f"NM1*82*1*REYES*DANA****XX*{FACILITATOR_NPI}"
    assert [line for line in batch if line.startswith("NM1*82*")] == [rendering] * 2
    subscribers = sorted(line for line in batch if line.startswith("NM1*IL*"))
    assert subscribers == ["NM1*IL*1*LOPEZ*MAYA****MI*MCD000111", "NM1*IL*1*LOPEZ*OWEN****MI*MCD000222"]
