"""GraphQL types of client records: the `Client` node with its diagnoses and coverage, the
per-request loaders behind them, and the inputs and results of the client mutations.

Each field checks its own rule and audits the read: diagnoses for clinical and billing roles,
coverage for the front desk and billing. A substance use disorder diagnosis of a member a Part 2
program treats is listed with `part2Withheld` and no code unless the caller is cleared for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Annotated, Any

import strawberry
from sqlalchemy import select
from strawberry import relay
from strawberry.dataloader import DataLoader

from backend.clients.models import Client, ClientCoverage, ClientDiagnosis
from backend.clients.rules import AdministrativeSex, CoveragePriority
from backend.clients.store import (
    address_of,
    administrative_sex_of,
    clients_by_ids,
    coverages_of,
    current_diagnoses,
)
from backend.compliance.part2.segmentation import is_part2_diagnosis
from backend.graphql.access import ensure_allowed
from backend.graphql.context import Context
from backend.graphql.errors import InvalidInput, NotFound
from backend.graphql.record_viewer import scope_of

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
    id: strawberry.ID
    priority: CoveragePriorityEnum  # type: ignore[valid-type]
    payer_name: str
    member_id: str
    group_number: str | None
    payer_id: strawberry.ID | None = strawberry.field(
        description="The configured payer its claims go to; null: not linked yet, so no claim is made"
    )
    ended_at: datetime | None = strawberry.field(
        description="When the member changed payer or it was removed; null while current"
    )

    @classmethod
    def of(cls, row: ClientCoverage) -> Coverage:
        return cls(
            id=strawberry.ID(str(row.id)),
            priority=row.priority,
            payer_name=row.payer_name,
            member_id=row.member_id,
            group_number=row.group_number,
            payer_id=strawberry.ID(str(row.payer_id)) if row.payer_id else None,
            ended_at=row.ended_at,
        )


AdministrativeSexEnum = strawberry.enum(
    AdministrativeSex, name="AdministrativeSex", description="As claims carry it (837 DMG03)"
)


@strawberry.type
class Address:
    """The member's home address: a claim carries it as the subscriber's (N3/N4)."""

    line1: str
    city: str
    state: str
    postal_code: str = strawberry.field(description="ZIP or ZIP+4, digits only")

    @classmethod
    def of(cls, client: Client) -> Address | None:
        found = address_of(client)
        if found is None:
            return None
        return cls(line1=found.line1, city=found.city, state=found.state, postal_code=found.postal_code)


@strawberry.type(name="Client")
class ClientNode(relay.Node):
    id: relay.NodeID[str]
    first_name: str
    last_name: str
    date_of_birth: date
    email: str | None
    phone: str | None
    emergency_contacts: list[EmergencyContact]
    address: Address | None = strawberry.field(description="Null: none on file (claims wait for it)")
    administrative_sex: AdministrativeSexEnum | None  # type: ignore[valid-type]

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
            address=Address.of(client),
            administrative_sex=administrative_sex_of(client),
        )

    @strawberry.field(description="Current ICD-10-CM diagnoses, primary first (clinical and billing roles).")
    async def diagnoses(self, info: strawberry.Info[Context, Any]) -> list[Diagnosis]:
        ensure_allowed(info, "diagnosis", "read")
        client_id = uuid.UUID(self.id)
        rows, cleared = await info.context.loader("client_diagnoses", diagnosis_loader).load(client_id)
        info.context.audit("read", "diagnosis", str(client_id), client_id)
        return [Diagnosis.of(r, cleared) for r in rows]

    @strawberry.field(
        description="Insurance coverages, primary first (front desk and billing roles); with includeEnded, "
        "also those ended by a change of payer or a removal, kept with their authorizations and checks."
    )
    async def coverages(
        self, info: strawberry.Info[Context, Any], include_ended: bool = False
    ) -> list[Coverage]:
        ensure_allowed(info, "coverage", "read")
        client_id = uuid.UUID(self.id)
        name = "client_coverages_with_ended" if include_ended else "client_coverages"
        rows = await info.context.loader(name, _coverage_loader(include_ended)).load(client_id)
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


def diagnosis_loader(context: Context) -> DataLoader[uuid.UUID, tuple[list[ClientDiagnosis], bool]]:
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


def _coverage_loader(
    include_ended: bool,
) -> Callable[[Context], DataLoader[uuid.UUID, list[ClientCoverage]]]:
    def loader(context: Context) -> DataLoader[uuid.UUID, list[ClientCoverage]]:
        async def load(ids: list[uuid.UUID]) -> list[list[ClientCoverage]]:
            found = await coverages_of(context.session, ids, include_ended=include_ended)
            return [found.get(i, []) for i in ids]

        return DataLoader(load_fn=load)

    return loader


async def load_clients(info: strawberry.Info, ids: list[uuid.UUID]) -> list[Client | None]:
    """Clients through the request's loader (one query per batch); other modules use it too."""
    loader: DataLoader[uuid.UUID, Client | None] = info.context.loader("client_by_id", _client_loader)
    return list(await loader.load_many(ids))


CLIENT_FIELD = (
    "The member's record (null if removed); its id is the global id node() takes, clientId the plain id"
)


async def client_of(info: strawberry.Info, client_id: str) -> ClientNode | None:
    """The `client` field of a row naming a member by id (a waitlist entry, a claim, a decision): the
    record under the same rule and audit as reading the client anywhere else, its `id` the global id
    `node` takes."""
    ensure_allowed(info, "client", "read")
    (client,) = await load_clients(info, [uuid.UUID(client_id)])
    if client is None:
        return None
    info.context.audit("read", "client", str(client.id), client.id)
    return ClientNode.of(client)


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
    payer_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="A payer of this clinic (addPayer) to send claims to. setCoverage: left out keeps "
        "the current link, null removes it",
    )


@strawberry.input
class AddressInput:
    line1: str
    city: str
    state: str = strawberry.field(description="2-letter USPS code")
    postal_code: str = strawberry.field(description="ZIP or ZIP+4 (12345, 123456789 or 12345-6789)")


@strawberry.input
class RegisterClientInput:
    first_name: str
    last_name: str
    date_of_birth: date
    email: str | None = None
    phone: str | None = None
    emergency_contacts: list[EmergencyContactInput] = strawberry.field(default_factory=list)
    address: AddressInput | None = strawberry.field(
        default=None, description="Needed before the member's sessions can be claimed"
    )
    administrative_sex: AdministrativeSexEnum | None = None  # type: ignore[valid-type]
    diagnoses: list[DiagnosisInput] = strawberry.field(default_factory=list)
    coverages: list[CoverageInput] = strawberry.field(default_factory=list)


@strawberry.input
class UpdateClientInput:
    """Fields left out keep their value; `email`, `phone`, `address` or `administrativeSex` sent as
    null clears it."""

    client_id: strawberry.ID
    first_name: str | None = strawberry.UNSET
    last_name: str | None = strawberry.UNSET
    date_of_birth: date | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    emergency_contacts: list[EmergencyContactInput] | None = strawberry.UNSET
    address: AddressInput | None = strawberry.UNSET
    administrative_sex: AdministrativeSexEnum | None = strawberry.UNSET  # type: ignore[valid-type]


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
