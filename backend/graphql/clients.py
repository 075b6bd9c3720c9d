"""Client records through GraphQL: list, fetch by global id, register, update, diagnoses, coverage.

Diagnoses are clinical (read by clinical and billing roles, changed by clinicians); coverage is
administrative (read and changed by the front desk and billing): each field checks its own rule,
and every read or write of a member's record is audited. A substance use disorder diagnosis of a
member a Part 2 program treats is 42 CFR Part 2 content: shown only to staff of that program or
under the member's consent or a break-the-glass grant, else listed with `part2Withheld` and no code.

This module holds the root query and mutation fields; the `Client` node, its loaders and the
inputs and results live in `backend.graphql.clients_types`.
"""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.eligibility_checks import CheckReason, request_check
from backend.billing.models import Payer
from backend.clients.models import Client, ClientDiagnosis
from backend.clients.rules import (
    AddressDraft,
    ClientDraft,
    CoverageDraft,
    CoveragePriority,
    DiagnosisDraft,
    EmergencyContactDraft,
    validate_client,
    validate_coverage,
    validate_coverages,
    validate_diagnoses,
    validate_diagnosis,
)
from backend.clients.store import (
    add_client,
    add_diagnosis,
    address_of,
    administrative_sex_of,
    apply_draft,
    client_list,
    remove_coverage,
    remove_diagnosis,
    set_coverage,
)
from backend.clinic.store import clinic_today
from backend.compliance.part2.segmentation import is_part2_diagnosis
from backend.errors import FieldProblem
from backend.graphql.access import allow, ensure_allowed
from backend.graphql.clients_types import (
    AddDiagnosisInput,
    AddressInput,
    ClientChanged,
    ClientChangeResult,
    ClientNode,
    CoverageInput,
    DiagnosisInput,
    EmergencyContactInput,
    RegisterClientInput,
    RegisterClientResult,
    RegisterClientSuccess,
    RemoveCoverageInput,
    RemoveDiagnosisInput,
    SetCoverageInput,
    UpdateClientInput,
    diagnosis_loader,
    load_clients,
)
from backend.graphql.context import Context
from backend.graphql.errors import InvalidInput, NotFound
from backend.graphql.relay import Connection, Keyset, keyset_page, parse_id
from backend.graphql.transactions import Atomic
from backend.notifications.delivery import queue_notification

WELCOME_TEMPLATE = "client.welcome"
WELCOME_BODY = (
    "Welcome. Your clinic has created your record; your care team will contact you about next steps."
)
CLIENT_ORDER = Keyset((Client.last_name, Client.first_name, Client.id))

PART2_DIAGNOSIS_WITHHELD = FieldProblem(
    "diagnosis.code",
    "part2_withheld",
    "this member's substance use diagnoses are Part 2 records you may not see: a consent or a "
    "break-the-glass grant is needed to record one",
)
PART2_PRIMARY_WITHHELD = FieldProblem(
    "diagnosis.primary",
    "part2_withheld",
    "the member's primary diagnosis is a Part 2 record you may not see: add this one as secondary, "
    "or obtain a consent or a break-the-glass grant",
)
PART2_DIAGNOSIS_NOT_REMOVABLE = FieldProblem(
    "diagnosisId",
    "part2_withheld",
    "is a substance use diagnosis (a Part 2 record) you may not see: a consent or a break-the-glass "
    "grant is needed to end it",
)


def _contacts(items: list[EmergencyContactInput]) -> tuple[EmergencyContactDraft, ...]:
    return tuple(EmergencyContactDraft(c.name, c.relationship, c.phone) for c in items)


def _address(item: AddressInput | None) -> AddressDraft | None:
    return AddressDraft(item.line1, item.city, item.state, item.postal_code) if item else None


def _diagnosis(item: DiagnosisInput) -> DiagnosisDraft:
    return DiagnosisDraft(item.code, item.primary, item.noted_on)


def _coverage(item: CoverageInput, field: str) -> CoverageDraft:
    payer = None if item.payer_id in (strawberry.UNSET, None) else parse_id(item.payer_id, f"{field}.payerId")
    return CoverageDraft(
        item.payer_name, item.member_id, item.group_number, CoveragePriority(item.priority), payer
    )


async def _unknown_payers(session: AsyncSession, drafts: dict[str, CoverageDraft]) -> list[FieldProblem]:
    """A problem for each coverage (by field) naming a payer this clinic has not configured."""
    named = {d.payer_id for d in drafts.values() if d.payer_id is not None}
    known = (
        set((await session.scalars(select(Payer.id).where(Payer.id.in_(named)))).all()) if named else set()
    )
    return [
        FieldProblem(f"{field}.payerId", "not_found", "does not name a payer of this clinic")
        for field, d in drafts.items()
        if d.payer_id is not None and d.payer_id not in known
    ]


async def _client(info: strawberry.Info[Context, Any], value: str, field: str = "clientId") -> Client | None:
    (client,) = await load_clients(info, [parse_id(value, field)])
    return client


@strawberry.type
class ClientQueries:
    @strawberry.field(permission_classes=[allow("client", "read")])
    async def clients(
        self, info: strawberry.Info[Context, Any], first: int = 20, after: str | None = None
    ) -> Connection[ClientNode]:
        page, connection = await keyset_page(
            info.context.session, client_list(), CLIENT_ORDER, first, after, ClientNode.of
        )
        for client in page:
            info.context.audit("read", "client", str(client.id), client.id)
        return connection


@strawberry.type
class ClientMutations:
    @strawberry.mutation(permission_classes=[allow("client", "create")], extensions=[Atomic()])
    async def register_client(
        self, info: strawberry.Info[Context, Any], input: RegisterClientInput
    ) -> RegisterClientResult:
        """Diagnoses need the diagnosis rule and coverages the coverage rule, as when added later."""
        if input.diagnoses:
            ensure_allowed(info, "diagnosis", "manage")
        if input.coverages:
            ensure_allowed(info, "coverage", "manage")
        draft = ClientDraft(
            input.first_name,
            input.last_name,
            input.date_of_birth,
            input.email,
            input.phone,
            _contacts(input.emergency_contacts),
            _address(input.address),
            input.administrative_sex,
        )
        today = await clinic_today(info.context.session)
        diagnoses = [_diagnosis(d) for d in input.diagnoses]
        coverages = [_coverage(c, f"coverages[{i}]") for i, c in enumerate(input.coverages)]
        session = info.context.session
        problems = validate_client(draft, today)
        problems += validate_diagnoses("diagnoses", diagnoses, today)
        problems += validate_coverages("coverages", coverages)
        problems += await _unknown_payers(session, {f"coverages[{i}]": c for i, c in enumerate(coverages)})
        if problems:
            return InvalidInput.of(problems)
        client = add_client(session, draft)
        await session.flush()
        for i, diagnosis in enumerate(diagnoses):
            await add_diagnosis(session, client.id, diagnosis, f"diagnoses[{i}].code")
        for coverage in coverages:
            await set_coverage(session, client.id, coverage)
        info.context.audit("create", "client", str(client.id), client.id)
        if client.email:
            queue_notification(session, "email", client.email, WELCOME_TEMPLATE, WELCOME_BODY)
        return RegisterClientSuccess(client=ClientNode.of(client))

    @strawberry.mutation(permission_classes=[allow("client", "update")], extensions=[Atomic()])
    async def update_client(
        self, info: strawberry.Info[Context, Any], input: UpdateClientInput
    ) -> ClientChangeResult:
        client = await _client(info, input.client_id)
        if client is None:
            return NotFound.of("clientId")
        draft = ClientDraft(
            _keep(input.first_name, client.first_name),
            _keep(input.last_name, client.last_name),
            _keep(input.date_of_birth, client.date_of_birth),
            client.email if input.email is strawberry.UNSET else input.email,
            client.phone if input.phone is strawberry.UNSET else input.phone,
            tuple(EmergencyContactDraft(**c) for c in client.emergency_contacts or [])
            if input.emergency_contacts in (strawberry.UNSET, None)
            else _contacts(input.emergency_contacts or []),
            address_of(client) if input.address is strawberry.UNSET else _address(input.address),
            administrative_sex_of(client)
            if input.administrative_sex is strawberry.UNSET
            else input.administrative_sex,
        )
        problems = validate_client(draft, await clinic_today(info.context.session))
        if problems:
            return InvalidInput.of(problems)
        apply_draft(client, draft)
        await info.context.session.flush()
        info.context.audit("update", "client", str(client.id), client.id)
        return ClientChanged(client=ClientNode.of(client))

    @strawberry.mutation(permission_classes=[allow("diagnosis", "manage")], extensions=[Atomic()])
    async def add_diagnosis(
        self, info: strawberry.Info[Context, Any], input: AddDiagnosisInput
    ) -> ClientChangeResult:
        """A new primary diagnosis demotes the previous one; a code already current is a duplicate."""
        client = await _client(info, input.client_id)
        if client is None:
            return NotFound.of("clientId")
        draft = _diagnosis(input.diagnosis)
        problems = validate_diagnosis("diagnosis", draft, await clinic_today(info.context.session))
        if problems:
            return InvalidInput.of(problems)
        if is_part2_diagnosis(draft.code) or draft.primary:
            loader = info.context.loader("client_diagnoses", diagnosis_loader)
            current, cleared = await loader.load(client.id)
            loader.clear(client.id)  # the answer's `diagnoses` must include the one added here
            # The member's SUD diagnoses may be Part 2 records hidden from the caller: answering
            # "duplicate" would reveal one, so the answer must not depend on them; and a new primary
            # would demote a withheld primary, a write into a record the caller may not see.
            if not cleared and is_part2_diagnosis(draft.code):
                return InvalidInput.of([PART2_DIAGNOSIS_WITHHELD])
            if not cleared and any(d.is_primary and is_part2_diagnosis(d.code) for d in current):
                return InvalidInput.of([PART2_PRIMARY_WITHHELD])
        row = await add_diagnosis(info.context.session, client.id, draft, "diagnosis.code")
        info.context.audit("create", "diagnosis", str(row.id), client.id)
        return ClientChanged(client=ClientNode.of(client))

    @strawberry.mutation(permission_classes=[allow("diagnosis", "manage")], extensions=[Atomic()])
    async def remove_diagnosis(
        self, info: strawberry.Info[Context, Any], input: RemoveDiagnosisInput
    ) -> ClientChangeResult:
        """The diagnosis stops being current on `removedOn` (today by default); its history stays."""
        removed_on = input.removed_on or await clinic_today(info.context.session)
        session = info.context.session
        row = await session.get(ClientDiagnosis, parse_id(input.diagnosis_id, "diagnosisId"))
        if row is None or row.removed_on is not None:
            return NotFound.of("diagnosisId")
        if is_part2_diagnosis(row.code):
            # A withheld Part 2 record is listed (its id, no code); ending it needs what reading it needs.
            _, cleared = await info.context.loader("client_diagnoses", diagnosis_loader).load(row.client_id)
            if not cleared:
                return InvalidInput.of([PART2_DIAGNOSIS_NOT_REMOVABLE])
        if removed_on < row.noted_on:
            return InvalidInput.of(
                [FieldProblem("removedOn", "before_noted", "must not be before the diagnosis")]
            )
        await remove_diagnosis(session, row, removed_on)
        info.context.audit("delete", "diagnosis", str(row.id), row.client_id)
        (client,) = await load_clients(info, [row.client_id])
        assert client is not None
        return ClientChanged(client=ClientNode.of(client))

    @strawberry.mutation(permission_classes=[allow("coverage", "manage")], extensions=[Atomic()])
    async def set_coverage(
        self, info: strawberry.Info[Context, Any], input: SetCoverageInput
    ) -> ClientChangeResult:
        """Adds or replaces the member's primary or secondary coverage (another payer after authorizations
        or eligibility checks: a new coverage, the old one ended); a primary now billed to another payer
        is checked with it at once (270)."""
        client = await _client(info, input.client_id)
        if client is None:
            return NotFound.of("clientId")
        draft = _coverage(input.coverage, "coverage")
        problems = validate_coverage("coverage", draft)
        problems += await _unknown_payers(info.context.session, {"coverage": draft})
        if problems:
            return InvalidInput.of(problems)
        keep = input.coverage.payer_id is strawberry.UNSET
        done = await set_coverage(info.context.session, client.id, draft, keep_payer=keep)
        row = done.coverage
        info.context.audit("update", "coverage", str(row.id), client.id)
        if done.payer_changed and row.priority == CoveragePriority.PRIMARY and row.payer_id is not None:
            # New insurance to bill: ask the payer now rather than at the next scheduled check.
            check_id = request_check(info.context.session, client.id, CheckReason.COVERAGE)
            info.context.audit("create", "eligibility_check", str(check_id), client.id)
        return ClientChanged(client=ClientNode.of(client))

    @strawberry.mutation(permission_classes=[allow("coverage", "manage")], extensions=[Atomic()])
    async def remove_coverage(
        self, info: strawberry.Info[Context, Any], input: RemoveCoverageInput
    ) -> ClientChangeResult:
        """The member no longer has this coverage: ended if authorizations or eligibility checks are on
        file (they stay with it), deleted if it was entered by mistake."""
        client = await _client(info, input.client_id)
        if client is None:
            return NotFound.of("clientId")
        if not await remove_coverage(info.context.session, client.id, CoveragePriority(input.priority)):
            return NotFound.of("priority")
        info.context.audit("delete", "coverage", str(client.id), client.id)
        return ClientChanged(client=ClientNode.of(client))


def _keep(value: Any, current: Any) -> Any:
    return current if value is strawberry.UNSET or value is None else value
