"""Reading and writing client records in the caller's clinic schema."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.clients.models import Client
from backend.clients.rules import ClientDraft


def add_client(session: AsyncSession, draft: ClientDraft) -> Client:
    client = Client(
        id=uuid.uuid4(),
        first_name=draft.first_name.strip(),
        last_name=draft.last_name.strip(),
        date_of_birth=draft.date_of_birth,
        email=draft.email,
    )
    session.add(client)
    return client


async def clients_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Client | None]:
    """Clients in the order of `ids`, None where an id names no client of this clinic."""
    rows = {c.id: c for c in (await session.scalars(select(Client).where(Client.id.in_(ids)))).all()}
    return [rows.get(i) for i in ids]


def client_list() -> Select[tuple[Client]]:
    return select(Client)
