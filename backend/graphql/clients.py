"""Client records through GraphQL: list, fetch by global id, register."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from typing import Annotated, Any

import strawberry
from strawberry import relay
from strawberry.dataloader import DataLoader

from backend.clients.models import Client
from backend.clients.rules import ClientDraft, validate_client
from backend.clients.store import add_client, client_list, clients_by_ids
from backend.graphql.access import allow, ensure_allowed
from backend.graphql.context import Context
from backend.graphql.errors import InvalidInput
from backend.graphql.relay import Connection, Keyset, keyset_page
from backend.graphql.transactions import Atomic
from backend.notifications.delivery import queue_notification

WELCOME_TEMPLATE = "client.welcome"
WELCOME_BODY = (
    "Welcome. Your clinic has created your record; your care team will contact you about next steps."
)
CLIENT_ORDER = Keyset((Client.last_name, Client.first_name, Client.id))


@strawberry.type(name="Client")
class ClientNode(relay.Node):
    id: relay.NodeID[str]
    first_name: str
    last_name: str
    date_of_birth: date
    email: str | None

    @classmethod
    def of(cls, client: Client) -> ClientNode:
        return cls(
            id=str(client.id),
            first_name=client.first_name,
            last_name=client.last_name,
            date_of_birth=client.date_of_birth,
            email=client.email,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: strawberry.Info, node_ids: Iterable[str], required: bool = False
    ) -> list[ClientNode | None]:
        ensure_allowed(info, "client", "read")
        ids = [_uuid_or_none(i) for i in node_ids]
        loader = info.context.loader("client_by_id", _client_loader)
        found = await loader.load_many([i for i in ids if i is not None])
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


@strawberry.input
class RegisterClientInput:
    first_name: str
    last_name: str
    date_of_birth: date
    email: str | None = None


@strawberry.type
class RegisterClientSuccess:
    client: ClientNode


RegisterClientResult = Annotated[
    RegisterClientSuccess | InvalidInput, strawberry.union("RegisterClientResult")
]


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
        draft = ClientDraft(input.first_name, input.last_name, input.date_of_birth, input.email)
        problems = validate_client(draft, date.today())
        if problems:
            return InvalidInput.of(problems)
        session = info.context.session
        client = add_client(session, draft)
        await session.flush()
        info.context.audit("create", "client", str(client.id), client.id)
        if client.email:
            queue_notification(session, "email", client.email, WELCOME_TEMPLATE, WELCOME_BODY)
        return RegisterClientSuccess(client=ClientNode.of(client))
