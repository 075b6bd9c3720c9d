"""A member's record sent to another provider, as a FHIR R4 document Bundle.

Pure: the record and the export plan (backend.compliance.disclosures.export_plan: what is released, Part 2
segmented by consent) go in; the Bundle's JSON comes out. When the plan releases Part 2 content,
the Bundle and each Part 2 resource carry the HL7 security labels for Part 2 (42CFRPart2, restricted,
no redisclosure without consent), and the Composition carries the 42 CFR 2.32 notice and the
consent's scope. The Bundle never mentions what was withheld: saying "Part 2 content left out"
would itself tell the recipient the member is in an SUD program.

fhir.resources has no package for R4 4.0.1 on pydantic 2; its R4B (4.3.0) models have the same
shape for every resource used here (Bundle, Composition, Patient, Condition, Encounter,
DocumentReference), so the Bundle is validated with them before it leaves.
"""

from __future__ import annotations

import base64
import html
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from backend.compliance.disclosures.export_plan import (
    ExportDiagnosis,
    ExportPatient,
    ExportPlan,
    ExportSession,
    MemberRecord,
)
from backend.compliance.disclosures.rules import FULL_NOTICE, consent_scope
from backend.compliance.part2.segmentation import is_part2_diagnosis

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
LOINC = "http://loinc.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
# HL7 DS4P labels for 42 CFR Part 2 content: the policy, restricted confidentiality, and the
# refrain policy "no redisclosure without consent directive".
PART2_LABELS: tuple[dict[str, str], ...] = (
    {"system": ACT_CODE, "code": "42CFRPart2", "display": "42 CFR Part2"},
    {"system": CONFIDENTIALITY, "code": "R", "display": "restricted"},
    {"system": ACT_CODE, "code": "NORDSCLCD", "display": "no redisclosure without consent directive"},
)
_IDS = uuid.UUID("6f1d2c47-3f54-4d0e-9a55-8a4d3b9e0c11")  # namespace of the Bundle's resource ids


def build_bundle(record: MemberRecord, plan: ExportPlan, clinic_name: str, at: datetime) -> str:
    """The FHIR document Bundle (JSON) of what the plan releases, validated by fhir.resources."""
    patient_id = _rid("patient", record.patient.client_id)
    patient_ref = {"reference": _url(patient_id)}
    part2_labels = list(PART2_LABELS)
    entries: list[dict[str, Any]] = [_patient(record.patient, patient_id)]
    conditions = [
        _condition(d, record.sud_part2 and is_part2_diagnosis(d.code), patient_id, patient_ref, part2_labels)
        for d in plan.diagnoses
    ]
    encounter_ids = {
        s.session_id: _rid("encounter", record.patient.client_id, s.session_id) for s in plan.encounters
    }
    encounters = [
        _encounter(s, encounter_ids[s.session_id], patient_ref, part2_labels) for s in plan.encounters
    ]
    notes = [
        _note(s, record.patient.client_id, encounter_ids, patient_ref, part2_labels, at) for s in plan.notes
    ]
    entries += conditions + encounters + notes
    sections = [
        _section("Diagnoses", "11450-4", "Problem list - Reported", conditions),
        _section(
            "Group therapy sessions attended",
            "46240-8",
            "History of Hospitalizations+Outpatient visits",
            encounters,
        ),
        _section("Session notes", "11506-3", "Progress note", notes),
    ]
    sections = [s for s in sections if s is not None]
    if plan.includes_part2:
        sections.append(_notice_section(plan))
    composition = {
        "resourceType": "Composition",
        "id": _rid("composition", record.patient.client_id, at.isoformat()),
        "status": "final",
        "type": {"coding": [{"system": LOINC, "code": "34133-9", "display": "Summary of episode note"}]},
        "subject": patient_ref,
        "date": at.isoformat(),
        "author": [{"display": clinic_name}],
        "title": "Member record export",
        "confidentiality": "R" if plan.includes_part2 else "N",
        "section": sections,
    }
    if plan.includes_part2:
        composition["meta"] = {"security": part2_labels}
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"},
        "type": "document",
        "timestamp": at.isoformat(),
        "entry": [{"fullUrl": _url(r["id"]), "resource": r} for r in [composition, *entries]],
    }
    if plan.includes_part2:
        bundle["meta"] = {"security": part2_labels}
    return Bundle.model_validate(bundle).model_dump_json(exclude_none=True)


def _rid(kind: str, *parts: object) -> str:
    return str(uuid.uuid5(_IDS, ":".join([kind, *(str(p) for p in parts)])))


def _url(resource_id: str) -> str:
    return f"urn:uuid:{resource_id}"


def _labelled(resource: dict[str, Any], part2: bool, labels: list[dict[str, str]]) -> dict[str, Any]:
    if part2:
        resource["meta"] = {"security": labels}
    return resource


def _patient(p: ExportPatient, patient_id: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": patient_id,
        "name": [{"family": p.last_name, "given": [p.first_name]}],
        "birthDate": p.birth_date.isoformat(),
    }
    gender = {"M": "male", "F": "female", "X": "other", "U": "unknown"}.get((p.sex or "").upper())
    if gender:
        resource["gender"] = gender
    return resource


def _condition(
    d: ExportDiagnosis,
    part2: bool,
    patient_id: str,
    patient_ref: dict[str, str],
    labels: list[dict[str, str]],
) -> dict[str, Any]:
    resource = {
        "resourceType": "Condition",
        "id": _rid("condition", patient_id, d.code),
        "clinicalStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
            ]
        },
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                        "code": "problem-list-item",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": ICD10CM, "code": d.code}], "text": d.code},
        "subject": patient_ref,
        "recordedDate": d.noted_on.isoformat(),
    }
    return _labelled(resource, part2, labels)


def _encounter(
    s: ExportSession, encounter_id: str, patient_ref: dict[str, str], labels: list[dict[str, str]]
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": encounter_id,
        "status": "finished",
        "class": {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"},
        "type": [
            {"text": f"Group psychotherapy: {s.program_name}" if s.program_name else "Psychotherapy session"}
        ],
        "subject": patient_ref,
        "period": {"start": s.starts_at.isoformat(), "end": s.ends_at.isoformat()},
    }
    if s.minutes_attended is not None:
        resource["length"] = {
            "value": s.minutes_attended,
            "unit": "min",
            "system": "http://unitsofmeasure.org",
            "code": "min",
        }
    return _labelled(resource, s.part2, labels)


def _note(
    s: ExportSession,
    client_id: uuid.UUID,
    encounter_ids: Mapping[uuid.UUID, str],
    patient_ref: dict[str, str],
    labels: list[dict[str, str]],
    at: datetime,
) -> dict[str, Any]:
    text = note_text(s)
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": _rid("note", client_id, s.session_id),
        "status": "current",
        "docStatus": "final",
        "type": {"coding": [{"system": LOINC, "code": "11506-3", "display": "Progress note"}]},
        "subject": patient_ref,
        "date": at.isoformat(),
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "data": base64.b64encode(text.encode()).decode(),
                    "title": f"Session note {s.starts_at.date().isoformat()}",
                }
            }
        ],
        "context": {"period": {"start": s.starts_at.isoformat(), "end": s.ends_at.isoformat()}},
    }
    if s.session_id in encounter_ids:
        resource["context"]["encounter"] = [{"reference": _url(encounter_ids[s.session_id])}]
    return _labelled(resource, s.part2, labels)


def note_text(s: ExportSession) -> str:
    """The session's note as plain text: the group note, the member's section, then addenda."""
    lines: list[str] = []
    for title, content in (("Group note", s.group_note), ("Member section", s.section)):
        if content:
            lines.append(title)
            lines += [f"{_label(k)}: {_value(v)}" for k, v in content.items() if v not in (None, "", [], {})]
    for written, text in s.addenda:
        lines.append(f"Addendum {written.date().isoformat()}: {text}")
    return "\n".join(lines)


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _section(
    title: str, code: str, display: str, resources: Iterable[dict[str, Any]]
) -> dict[str, Any] | None:
    refs = [{"reference": _url(r["id"])} for r in resources]
    if not refs:
        return None
    return {
        "title": title,
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
        "text": _narrative([f"{len(refs)} {title.lower()}"]),
        "entry": refs,
    }


def _notice_section(plan: ExportPlan) -> dict[str, Any]:
    """42 CFR 2.32: the notice, and a clear explanation of each consent's scope."""
    scopes = [consent_scope(r.consent) for r in plan.part2]
    return {
        "title": "42 CFR Part 2 redisclosure notice",
        "text": _narrative([FULL_NOTICE, *scopes]),
    }


def _narrative(paragraphs: Sequence[str]) -> dict[str, str]:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'}
