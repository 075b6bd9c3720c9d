"""The export plan and the FHIR Bundle without a database: what is released, what is withheld, the Bundle."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from fhir.resources.R4B.bundle import Bundle

from backend.compliance.disclosures.export_plan import (
    ExportDiagnosis,
    ExportPatient,
    ExportSession,
    MemberRecord,
    WithheldReason,
    plan_export,
    release_description,
)
from backend.compliance.disclosures.fhir_export import build_bundle
from backend.compliance.disclosures.rules import FULL_NOTICE
from backend.compliance.part2.consents import Category, ConsentTerms, Purpose, Recipient, RecipientKind

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
PROVIDER = Recipient(RecipientKind.TPO, None)
SUD_NOTE = "Discussed cravings after the weekend; practised urge surfing."
DBT_NOTE = "Practised TIPP skills; diary card reviewed."


def session(part2: bool, note: str, days_ago: int, final: bool = True) -> ExportSession:
    starts = NOW - timedelta(days=days_ago)
    return ExportSession(
        session_id=uuid.uuid4(),
        starts_at=starts,
        ends_at=starts + timedelta(minutes=90),
        program_name="Recovery IOP" if part2 else "DBT skills",
        part2=part2,
        minutes_attended=90,
        final=final,
        group_note={"theme": "relapse_prevention" if part2 else "distress_tolerance"},
        section={"participation": note},
        note_withheld=False,
    )


def record(*sessions: ExportSession) -> MemberRecord:
    return MemberRecord(
        patient=ExportPatient(uuid.uuid4(), "Maya", "Lopez", date(1991, 3, 4), "F"),
        diagnoses=(
            ExportDiagnosis("F33.1", True, date(2026, 1, 5)),
            ExportDiagnosis("F10.20", False, date(2026, 2, 1)),
        ),
        diagnoses_readable=True,
        sessions=sessions or (session(False, DBT_NOTE, 3), session(True, SUD_NOTE, 2)),
        sud_part2=True,
    )


def tpo_consent(client_id: uuid.UUID, **changes: object) -> ConsentTerms:
    terms = ConsentTerms(
        id=uuid.uuid4(),
        client_id=client_id,
        recipients=(Recipient(RecipientKind.TPO, None),),
        purposes=frozenset({Purpose.TREATMENT, Purpose.PAYMENT, Purpose.OPERATIONS}),
        categories=frozenset({Category.ALL}),
        starts_at=NOW - timedelta(days=30),
        ends_at=None,
        end_event="revoked in writing",
        revoked_at=None,
    )
    return replace(terms, **changes)  # type: ignore[arg-type]


def resources(bundle_json: str) -> list[dict[str, object]]:
    return [entry["resource"] for entry in json.loads(bundle_json)["entry"]]


def test_without_consent_part2_content_is_withheld_by_category_and_the_rest_released() -> None:
    """No consent: the SUD diagnosis, the Part 2 session and its note stay out, each listed as no_consent."""
    member = record()
    plan = plan_export(member, [], PROVIDER, Purpose.TREATMENT, NOW)
    assert [d.code for d in plan.diagnoses] == ["F33.1"]
    assert [s.program_name for s in plan.encounters] == ["DBT skills"]
    assert [s.program_name for s in plan.notes] == ["DBT skills"]
    assert not plan.includes_part2
    assert {(w.category, w.part2, w.reason, w.count) for w in plan.withheld} == {
        (Category.DIAGNOSES, True, WithheldReason.NO_CONSENT, 1),
        (Category.ATTENDANCE, True, WithheldReason.NO_CONSENT, 1),
        (Category.NOTES, True, WithheldReason.NO_CONSENT, 1),
    }


def test_a_tpo_consent_releases_part2_content_to_an_outside_provider_for_treatment() -> None:
    """A TPO consent covering all information releases every Part 2 item, counted under that consent."""
    member = record()
    consent = tpo_consent(member.patient.client_id)
    plan = plan_export(member, [consent], PROVIDER, Purpose.TREATMENT, NOW)
    assert len(plan.notes) == 2 and len(plan.diagnoses) == 2 and not plan.withheld
    (release,) = plan.part2
    assert release.consent.id == consent.id
    assert release.categories == {Category.DIAGNOSES, Category.ATTENDANCE, Category.NOTES}
    assert release_description(release) == (
        "member record export: 1 Part 2 session note, 1 Part 2 session attendance, 1 SUD diagnosis"
    )


def test_a_consent_for_diagnoses_only_keeps_part2_notes_and_attendance_out() -> None:
    """Each category is asked separately: diagnoses go, notes and attendance of the SUD program do not."""
    member = record()
    consent = tpo_consent(member.patient.client_id, categories=frozenset({Category.DIAGNOSES}))
    plan = plan_export(member, [consent], PROVIDER, Purpose.TREATMENT, NOW)
    assert [d.code for d in plan.diagnoses] == ["F33.1", "F10.20"]
    assert [s.part2 for s in plan.notes] == [False]
    assert {w.category for w in plan.withheld} == {Category.NOTES, Category.ATTENDANCE}


def test_a_revoked_consent_is_named_as_the_reason_and_releases_nothing() -> None:
    """Revoked: Part 2 content is withheld with reason consent_revoked and that consent's id."""
    member = record()
    consent = tpo_consent(member.patient.client_id, revoked_at=NOW - timedelta(days=1))
    plan = plan_export(member, [consent], PROVIDER, Purpose.TREATMENT, NOW)
    assert not plan.includes_part2
    assert {(w.reason, w.consent_id) for w in plan.withheld} == {(WithheldReason.CONSENT_REVOKED, consent.id)}


def test_an_expired_consent_is_named_as_the_reason() -> None:
    """Past its end date: withheld with reason consent_expired."""
    member = record()
    consent = tpo_consent(member.patient.client_id, ends_at=NOW - timedelta(days=1), end_event=None)
    plan = plan_export(member, [consent], PROVIDER, Purpose.TREATMENT, NOW)
    assert {w.reason for w in plan.withheld} == {WithheldReason.CONSENT_EXPIRED}


def test_a_payer_consent_does_not_cover_a_release_for_treatment() -> None:
    """A consent naming only payment does not let Part 2 content go to a provider for treatment."""
    member = record()
    consent = tpo_consent(member.patient.client_id, purposes=frozenset({Purpose.PAYMENT}))
    plan = plan_export(member, [consent], PROVIDER, Purpose.TREATMENT, NOW)
    assert not plan.includes_part2
    assert {w.reason for w in plan.withheld} == {WithheldReason.NO_CONSENT}


def test_unsigned_notes_are_not_sent_and_are_listed_as_not_final() -> None:
    """A draft record's note stays out (reason not_final) while the encounter goes."""
    member = record(session(False, DBT_NOTE, 1, final=False))
    plan = plan_export(member, [], PROVIDER, Purpose.TREATMENT, NOW)
    assert len(plan.encounters) == 1 and not plan.notes
    notes = [(w.part2, w.reason) for w in plan.withheld if w.category is Category.NOTES]
    assert notes == [(False, WithheldReason.NOT_FINAL)]


def test_the_bundle_without_part2_content_validates_and_never_hints_at_it() -> None:
    """The Bundle parses back with fhir.resources, holds the DBT note, and has no Part 2 label, notice or
    mention of withheld content (saying so would itself disclose SUD treatment)."""
    member = record()
    plan = plan_export(member, [], PROVIDER, Purpose.TREATMENT, NOW)
    text = build_bundle(member, plan, "Ensemble Demo Clinic", NOW)
    Bundle.model_validate_json(text)
    kinds = [r["resourceType"] for r in resources(text)]
    assert kinds == ["Composition", "Patient", "Condition", "Encounter", "DocumentReference"]
    for needle in ("42CFRPart2", "F10", "Recovery", "part 2", "withheld", SUD_NOTE):
        assert needle.lower() not in text.lower()
    note = next(r for r in resources(text) if r["resourceType"] == "DocumentReference")
    data = note["content"][0]["attachment"]["data"]  # type: ignore[index]
    assert DBT_NOTE in base64.b64decode(data).decode()


def test_the_bundle_with_part2_content_carries_labels_notice_and_consent_scope() -> None:
    """Part 2 resources and the Bundle carry the 42CFRPart2 label; the Composition holds the 2.32 notice
    and the consent's scope; the Bundle validates."""
    member = record()
    consent = tpo_consent(member.patient.client_id)
    plan = plan_export(member, [consent], PROVIDER, Purpose.TREATMENT, NOW)
    text = build_bundle(member, plan, "Ensemble Demo Clinic", NOW)
    bundle = Bundle.model_validate_json(text)
    assert bundle.type == "document"
    assert {c.code for c in bundle.meta.security} >= {"42CFRPart2", "R", "NORDSCLCD"}  # type: ignore[union-attr]
    labelled = [r for r in resources(text) if "meta" in r]
    assert {r["resourceType"] for r in labelled} == {
        "Composition",
        "Condition",
        "Encounter",
        "DocumentReference",
    }
    assert len(labelled) == 4  # the Composition, F10.20, the IOP encounter and its note
    composition = resources(text)[0]
    notice = next(s for s in composition["section"] if "42 CFR" in s["title"])  # type: ignore[attr-defined]
    assert FULL_NOTICE.split(" (42 CFR part 2)")[0] in notice["text"]["div"]
    assert str(consent.id) in notice["text"]["div"]
