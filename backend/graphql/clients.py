"""Client records through GraphQL: list, fetch by global id, register, update, diagnoses, coverage.

Diagnoses are clinical (read by clinical and billing roles, changed by clinicians); coverage is
administrative (read and changed by the front desk and billing): each field checks its own rule,
and every read or write of a member's record is audited. A substance use disorder diagnosis of a
member a Part 2 program treats is 42 CFR Part 2 content: shown only to staff of that program or
under the member's consent or a break-the-glass grant, else listed with `part2Withheld` and no code.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from typing import Annotated, Any

import strawberry
from sqlalchemy import select
from strawberry import relay
from strawberry.dataloader import DataLoader

from backend.clients.models import Client, ClientCoverage, ClientDiagnosis
from backend.clients.rules import (
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
    apply_draft,
    client_list,
    clients_by_ids,
    coverages_of,
    current_diagnoses,
    remove_coverage,
    remove_diagnosis,
    set_coverage,
)
from backend.clinic.store import clinic_today
from backend.compliance.part2.segmentation import is_part2_diagnosis
from backend.errors import FieldProblem
from backend.graphql.access import allow, ensure_allowed
from backend.graphql.context import Context
from backend.graphql.errors import InvalidInput, NotFound
from backend.graphql.record_viewer import scope_of
from backend.graphql.relay import Connection, Keyset, keyset_page, parse_id
from backend.graphql.transactions import Atomic
from backend.notifications.delivery import queue_notification

WELCOME_TEMPLATE = "client.welcome"
WELCOME_BODY = (
    "Welcome. Your clinic has created your record; your care team will contact you about next steps."
)
CLIENT_ORDER = Keyset((Client.last_name, Client.first_name, Client.id))

CoveragePriorityEnum = strawberry.enum(CoveragePriority, name="CoveragePriority")


@strawberry.type
class EmergencyContact:
    name: str
    relationship: str
    phone: str


@strawberry.type
class Diagnosis:
    id: strawberry.ID
    code: str | None = strawberry.field(description="Null only when part2Withheld")
    primary: bool
    noted_on: date
    part2_withheld: bool = strawberry.field(
        description="True: a substance use disorder diagnosis (42 CFR Part 2) that no consent or "
        "break-the-glass grant of yours covers (reason no_consent); its code is null"
    )

    @classmethod
    def of(cls, row: ClientDiagnosis, cleared: bool = True) -> Diagnosis:
        withheld = not cleared and is_part2_diagnosis(row.code)
        return cls(
            id=strawberry.ID(str(row.id)),
            code=None if withheld else row.code,
            primary=row.is_primary,
            noted_on=row.noted_on,
            part2_withheld=withheld,
        )


@strawberry.type
class Coverage:
    priority: CoveragePriorityEnum  # type: ignore[valid-type]
    payer_name: str
    member_id: str
    group_number: str | None

    @classmethod
    def of(cls, row: ClientCoverage) -> Coverage:
        return cls(
            priority=row.priority,
            payer_name=row.payer_name,
            member_id=row.member_id,
            group_number=row.group_number,
        )


@strawberry.type(name="Client")
class ClientNode(relay.Node):
    id: relay.NodeID[str]
    first_name: str
    last_name: str
    date_of_birth: date
    email: str | None
    phone: str | None
    emergency_contacts: list[EmergencyContact]

    @classmethod
    def of(cls, client: Client) -> ClientNode:
        return cls(
            id=str(client.id),
            first_name=client.first_name,
            last_name=client.last_name,
            date_of_birth=client.date_of_birth,
            email=client.email,
            phone=client.phone,
            emergency_contacts=[EmergencyContact(**c) for c in client.emergency_contacts or []],
        )

    @strawberry.field(description="Current ICD-10-CM diagnoses, primary first (clinical and billing roles).")
    async def diagnoses(self, info: strawberry.Info[Context, Any]) -> list[Diagnosis]:
        ensure_allowed(info, "diagnosis", "read")
        client_id = uuid.UUID(self.id)
        rows, cleared = await info.context.loader("client_diagnoses", _diagnosis_loader).load(client_id)
        info.context.audit("read", "diagnosis", str(client_id), client_id)
        return [Diagnosis.of(r, cleared) for r in rows]

    @strawberry.field(description="Insurance coverage placeholders (front desk and billing roles).")
    async def coverages(self, info: strawberry.Info[Context, Any]) -> list[Coverage]:
        ensure_allowed(info, "coverage", "read")
        client_id = uuid.UUID(self.id)
        rows = await info.context.loader("client_coverages", _coverage_loader).load(client_id)
        info.context.audit("read", "coverage", str(client_id), client_id)
        return [Coverage.of(r) for r in rows]

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: strawberry.Info, node_ids: Iterable[str], required: bool = False
    ) -> list[ClientNode | None]:
        ensure_allowed(info, "client", "read")
        ids = [_uuid_or_none(i) for i in node_ids]
        found = await load_clients(info, [i for i in ids if i is not None])
        by_id = {c.id: c for c in found if c is not None}
        nodes: list[ClientNode | None] = []
        for i in ids:
            client = by_id.get(i) if i is not None else None
            if client is not None:
                info.context.audit("read", "client", str(client.id), client.id)
            nodes.append(ClientNode.of(client) if client else None)
        return nodes


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _client_loader(context: Context) -> DataLoader[uuid.UUID, Client | None]:
    async def load(ids: list[uuid.UUID]) -> list[Client | None]:
        return await clients_by_ids(context.session, ids)

    return DataLoader(load_fn=load)


PART2_DIAGNOSIS_WITHHELD = FieldProblem(
    "diagnosis.code",
    "part2_withheld",
    "this member's substance use diagnoses are Part 2 records you may not see: a consent or a "
    "break-the-glass grant is needed to record one",
)


def _diagnosis_loader(context: Context) -> DataLoader[uuid.UUID, tuple[list[ClientDiagnosis], bool]]:
    """Each member's current diagnoses, and whether their SUD diagnoses are cleared for the caller
    under Part 2 (two SQL statements for the batch, the rule of backend.compliance.part2.access)."""

    async def load(ids: list[uuid.UUID]) -> list[tuple[list[ClientDiagnosis], bool]]:
        found = await current_diagnoses(context.session, ids)
        scope = await scope_of(context)
        cleared = set(
            await context.session.scalars(
                select(Client.id).where(Client.id.in_(ids), scope.diagnoses_cleared(Client.id))
            )
        )
        return [(found.get(i, []), i in cleared) for i in ids]

    return DataLoader(load_fn=load)


def _coverage_loader(context: Context) -> DataLoader[uuid.UUID, list[ClientCoverage]]:
    async def load(ids: list[uuid.UUID]) -> list[list[ClientCoverage]]:
        found = await coverages_of(context.session, ids)
        return [found.get(i, []) for i in ids]

    return DataLoader(load_fn=load)


async def load_clients(info: strawberry.Info, ids: list[uuid.UUID]) -> list[Client | None]:
    """Clients through the request's loader (one query per batch); other modules use it too."""
    loader: DataLoader[uuid.UUID, Client | None] = info.context.loader("client_by_id", _client_loader)
    return list(await loader.load_many(ids))


@strawberry.input
class EmergencyContactInput:
    name: str
    relationship: str
    phone: str


@strawberry.input
class DiagnosisInput:
    code: str = strawberry.field(description="ICD-10-CM code with its dot, e.g. F33.1")
    noted_on: date
    primary: bool = False


@strawberry.input
class CoverageInput:
    priority: CoveragePriorityEnum  # type: ignore[valid-type]
    payer_name: str
    member_id: str
    group_number: str | None = None


@strawberry.input
class RegisterClientInput:
    first_name: str
    last_name: str
    date_of_birth: date
    email: str | None = None
    phone: str | None = None
    emergency_contacts: list[EmergencyContactInput] = strawberry.field(default_factory=list)
    diagnoses: list[DiagnosisInput] = strawberry.field(default_factory=list)
    coverages: list[CoverageInput] = strawberry.field(default_factory=list)


@strawberry.input
class UpdateClientInput:
    """Fields left out keep their value; `email` or `phone` sent as null clears it."""

    client_id: strawberry.ID
    first_name: str | None = strawberry.UNSET
    last_name: str | None = strawberry.UNSET
    date_of_birth: date | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    emergency_contacts: list[EmergencyContactInput] | None = strawberry.UNSET


@strawberry.input
class AddDiagnosisInput:
    client_id: strawberry.ID
    diagnosis: DiagnosisInput


@strawberry.input
class RemoveDiagnosisInput:
    diagnosis_id: strawberry.ID
    removed_on: date | None = None


@strawberry.input
class SetCoverageInput:
    client_id: strawberry.ID
    coverage: CoverageInput


@strawberry.input
class RemoveCoverageInput:
    client_id: strawberry.ID
    priority: CoveragePriorityEnum  # type: ignore[valid-type]


@strawberry.type
class RegisterClientSuccess:
    client: ClientNode


@strawberry.type
class ClientChanged:
    """The record after an update, a diagnosis or a coverage change."""

    client: ClientNode


RegisterClientResult = Annotated[
    RegisterClientSuccess | InvalidInput, strawberry.union("RegisterClientResult")
]
ClientChangeResult = Annotated[
    ClientChanged | InvalidInput | NotFound, strawberry.union("ClientChangeResult")
]


def _contacts(items: list[EmergencyContactInput]) -> tuple[EmergencyContactDraft, ...]:
    return tuple(EmergencyContactDraft(c.name, c.relationship, c.phone) for c in items)


def _diagnosis(item: DiagnosisInput) -> DiagnosisDraft:
    return DiagnosisDraft(item.code, item.primary, item.noted_on)


def _coverage(item: CoverageInput) -> CoverageDraft:
    return CoverageDraft(item.payer_name, item.member_id, item.group_number, CoveragePriority(item.priority))


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
        )
        today = await clinic_today(info.context.session)
        diagnoses = [_diagnosis(d) for d in input.diagnoses]
        coverages = [_coverage(c) for c in input.coverages]
        problems = validate_client(draft, today)
        problems += validate_diagnoses("diagnoses", diagnoses, today)
        problems += validate_coverages("coverages", coverages)
        if problems:
            return InvalidInput.of(problems)
        session = info.context.session
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
        if is_part2_diagnosis(draft.code):
            # The member's SUD diagnoses may be Part 2 records hidden from the caller: answering
            # "duplicate" would reveal one, so the answer must not depend on them.
            _, cleared = await info.context.loader("client_diagnoses", _diagnosis_loader).load(client.id)
            if not cleared:
                return InvalidInput.of([PART2_DIAGNOSIS_WITHHELD])
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
        """Adds or replaces the member's primary or secondary coverage."""
        client = await _client(info, input.client_id)
        if client is None:
            return NotFound.of("clientId")
        draft = _coverage(input.coverage)
        problems = validate_coverage("coverage", draft)
        if problems:
            return InvalidInput.of(problems)
        row = await set_coverage(info.context.session, client.id, draft)
        info.context.audit("update", "coverage", str(row.id), client.id)
        return ClientChanged(client=ClientNode.of(client))

    @strawberry.mutation(permission_classes=[allow("coverage", "manage")], extensions=[Atomic()])
    async def remove_coverage(
        self, info: strawberry.Info[Context, Any], input: RemoveCoverageInput
    ) -> ClientChangeResult:
        client = await _client(info, input.client_id)
        if client is None:
            return NotFound.of("clientId")
        if not await remove_coverage(info.context.session, client.id, CoveragePriority(input.priority)):
            return NotFound.of("priority")
        info.context.audit("delete", "coverage", str(client.id), client.id)
        return ClientChanged(client=ClientNode.of(client))


def _keep(value: Any, current: Any) -> Any:
    return current if value is strawberry.UNSET or value is None else value
