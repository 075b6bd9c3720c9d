"""Reading and writing client records in the caller's clinic schema."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date

from sqlalchemy import Select, Update, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import EligibilityCheck
from backend.clients.models import Authorization, Client, ClientCoverage, ClientDiagnosis
from backend.clients.rules import (
    AddressDraft,
    AdministrativeSex,
    ClientDraft,
    CoverageDraft,
    DiagnosisDraft,
    EmergencyContactDraft,
    names_another_payer,
    normalize_icd10cm,
    postal_digits,
)
from backend.database import utcnow
from backend.errors import FieldProblem, InputRejected


def contacts_json(contacts: Sequence[EmergencyContactDraft]) -> list[dict[str, str]]:
    return [{k: v.strip() for k, v in asdict(c).items()} for c in contacts]


def add_client(session: AsyncSession, draft: ClientDraft) -> Client:
    client = Client(id=uuid.uuid4())
    apply_draft(client, draft)
    session.add(client)
    return client


def apply_draft(client: Client, draft: ClientDraft) -> None:
    """Replace the record's demographics and contacts with a validated draft."""
    client.first_name = draft.first_name.strip()
    client.last_name = draft.last_name.strip()
    client.date_of_birth = draft.date_of_birth
    client.email = draft.email
    client.phone = draft.phone.strip() if draft.phone else None
    client.emergency_contacts = contacts_json(draft.emergency_contacts)
    client.sex = draft.administrative_sex.value if draft.administrative_sex else None
    address = draft.address
    client.address_line1 = address.line1.strip() if address else None
    client.city = address.city.strip() if address else None
    client.state = address.state.strip().upper() if address else None
    client.postal_code = postal_digits(address.postal_code) if address else None


def address_of(client: Client) -> AddressDraft | None:
    """The stored home address; None unless complete (a claim needs every part)."""
    if not (client.address_line1 and client.city and client.state and client.postal_code):
        return None
    return AddressDraft(client.address_line1, client.city, client.state, client.postal_code)


def administrative_sex_of(client: Client) -> AdministrativeSex | None:
    return AdministrativeSex(client.sex) if client.sex in set(AdministrativeSex) else None


async def clients_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Client | None]:
    """Clients in the order of `ids`, None where an id names no client of this clinic."""
    rows = {c.id: c for c in (await session.scalars(select(Client).where(Client.id.in_(ids)))).all()}
    return [rows.get(i) for i in ids]


def client_list() -> Select[tuple[Client]]:
    return select(Client)


# -- diagnoses ---------------------------------------------------------------------------------


async def add_diagnosis(
    session: AsyncSession, client_id: uuid.UUID, draft: DiagnosisDraft, field: str
) -> ClientDiagnosis:
    """Add a current diagnosis; a new primary one demotes the previous primary (one per member)."""
    if draft.primary:
        await session.execute(
            update(ClientDiagnosis)
            .where(
                ClientDiagnosis.client_id == client_id,
                ClientDiagnosis.is_primary,
                ClientDiagnosis.removed_on.is_(None),
            )
            .values(is_primary=False)
        )
    diagnosis = ClientDiagnosis(
        id=uuid.uuid4(),
        client_id=client_id,
        code=normalize_icd10cm(draft.code),
        is_primary=draft.primary,
        noted_on=draft.noted_on,
    )
    try:
        async with session.begin_nested():
            session.add(diagnosis)
            await session.flush()
    except IntegrityError as exc:
        if "uq_client_diagnoses" in str(exc.orig):
            raise InputRejected(
                [FieldProblem(field, "duplicate", "is already a current diagnosis")]
            ) from None
        raise
    return diagnosis


async def remove_diagnosis(session: AsyncSession, diagnosis: ClientDiagnosis, removed_on: date) -> None:
    """Mark a current diagnosis removed (kept for claims dated before `removed_on`)."""
    diagnosis.removed_on = removed_on
    diagnosis.is_primary = False
    await session.flush()


async def current_diagnoses(
    session: AsyncSession, client_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[ClientDiagnosis]]:
    stmt = (
        select(ClientDiagnosis)
        .where(ClientDiagnosis.client_id.in_(client_ids), ClientDiagnosis.removed_on.is_(None))
        .order_by(ClientDiagnosis.is_primary.desc(), ClientDiagnosis.noted_on, ClientDiagnosis.code)
    )
    found: dict[uuid.UUID, list[ClientDiagnosis]] = defaultdict(list)
    for row in (await session.scalars(stmt)).all():
        found[row.client_id].append(row)
    return found


# -- coverage ----------------------------------------------------------------------------------


def _current(client_id: uuid.UUID, priority: str) -> Select[ClientCoverage]:
    return select(ClientCoverage).where(
        ClientCoverage.client_id == client_id,
        ClientCoverage.priority == priority,
        ClientCoverage.ended_at.is_(None),
    )


async def _has_history(session: AsyncSession, coverage_id: uuid.UUID) -> bool:
    """Authorizations or eligibility checks were recorded under the coverage."""
    recorded = (
        select(Authorization.coverage_id)
        .where(Authorization.coverage_id == coverage_id)
        .union_all(select(EligibilityCheck.coverage_id).where(EligibilityCheck.coverage_id == coverage_id))
    )
    return await session.scalar(select(exists(recorded))) is True


@dataclass(frozen=True)
class CoverageSet:
    coverage: ClientCoverage
    #: Claims of this priority now go to another payer (a new coverage, or another payer linked).
    payer_changed: bool


async def set_coverage(
    session: AsyncSession, client_id: uuid.UUID, draft: CoverageDraft, *, keep_payer: bool = False
) -> CoverageSet:
    """Set the member's current coverage of this priority (primary or secondary); its payer link is
    the draft's, or the one it had with `keep_payer`.

    The coverage is edited in place, unless the draft names another payer and authorizations or
    eligibility checks were recorded under it: then it is ended and a new coverage takes its place,
    so that history never counts for the new payer (a claim to it never quotes the old payer's
    authorization, nor is its eligibility taken from the old payer's answer).
    """
    coverage = (await session.scalars(_current(client_id, draft.priority).with_for_update())).one_or_none()
    before = (coverage.id, coverage.payer_id) if coverage is not None else None
    if coverage is not None and (
        names_another_payer(coverage.payer_name, coverage.payer_id, draft, keep_payer=keep_payer)
        and await _has_history(session, coverage.id)
    ):
        coverage.ended_at = utcnow()
        await session.flush()  # the priority is free before the new coverage takes it
        coverage = None
    if coverage is None:
        coverage = ClientCoverage(id=uuid.uuid4(), client_id=client_id, priority=draft.priority)
        session.add(coverage)
    coverage.payer_name = draft.payer_name.strip()
    coverage.member_id = draft.member_id.strip()
    coverage.group_number = draft.group_number.strip() if draft.group_number else None
    if not keep_payer:
        coverage.payer_id = draft.payer_id
    await session.flush()
    return CoverageSet(coverage, before != (coverage.id, coverage.payer_id))


async def remove_coverage(session: AsyncSession, client_id: uuid.UUID, priority: str) -> bool:
    """The member no longer has this coverage (False: none of this priority). One with authorizations
    or eligibility checks on file is ended, keeping them for the claims and answers they belong to;
    one entered by mistake, with nothing recorded under it, is deleted."""
    coverage = (await session.scalars(_current(client_id, priority).with_for_update())).one_or_none()
    if coverage is None:
        return False
    if await _has_history(session, coverage.id):
        coverage.ended_at = utcnow()
    else:
        await session.delete(coverage)
    await session.flush()
    return True


async def coverages_of(
    session: AsyncSession, client_ids: Sequence[uuid.UUID], *, include_ended: bool = False
) -> dict[uuid.UUID, list[ClientCoverage]]:
    """Each member's current coverages by priority; with `include_ended`, then the ended ones (by
    priority, the latest ended first)."""
    stmt = (
        select(ClientCoverage)
        .where(ClientCoverage.client_id.in_(client_ids))
        .order_by(
            ClientCoverage.ended_at.is_not(None), ClientCoverage.priority, ClientCoverage.ended_at.desc()
        )
    )
    if not include_ended:
        stmt = stmt.where(ClientCoverage.ended_at.is_(None))
    found: dict[uuid.UUID, list[ClientCoverage]] = defaultdict(list)
    for row in (await session.scalars(stmt)).all():
        found[row.client_id].append(row)
    return found


# -- authorizations ----------------------------------------------------------------------------


def give_back_uses(authorization_id: uuid.UUID, uses: int = 1) -> Update:
    """The statement returning `uses` sessions (IOP/PHP: days) to an authorization, never below none
    used: a voided or withdrawn claim, or a day taken off a week, did not use them."""
    return (
        update(Authorization)
        .where(Authorization.id == authorization_id)
        .values(sessions_used=func.greatest(Authorization.sessions_used - uses, 0))
    )
