"""Helpers for tests that go through GraphQL: users with roles, tokens, and a client."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from backend.database import Database, connect, database_url
from backend.identity.models import Membership, User
from backend.identity.tokens import issue_access_token
from backend.settings import Settings
from backend.tenants.models import Tenant
from backend.tenants.provisioning import create_shared_schema


@dataclass(frozen=True)
class Account:
    user_id: uuid.UUID
    email: str
    token: str


def make_account(
    database: Database,
    settings: Settings,
    clinic: Tenant,
    roles: list[str],
    user_id: uuid.UUID | None = None,
) -> Account:
    """A user with these roles in `clinic` (an existing user when `user_id` is given) and a token for it."""
    with Session(database.engine) as session, session.begin():
        if user_id is None:
            user = User(email=f"{uuid.uuid4().hex[:10]}@example.test", display_name="Staff Member")
            session.add(user)
            session.flush()
        else:
            user = session.get_one(User, user_id)
        session.add(Membership(user_id=user.id, tenant_id=clinic.id, roles=roles))
        email, uid, version = user.email, user.id, user.token_version
    token, _ = issue_access_token(settings.secret_key, uid, clinic.id, version, 600)
    return Account(uid, email, token)


class GraphQLClient:
    def __init__(self, http: TestClient) -> None:
        self.http = http

    def execute(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code < 500, response.text
        return response.json()

    def data(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> Any:
        """The `data` of a response that must have no errors."""
        body = self.execute(query, variables, token)
        assert not body.get("errors"), body["errors"]
        return body["data"]


@contextmanager
def fresh_database(settings: Settings, pool_size: int = 5) -> Iterator[Database]:
    """A database of its own on the chosen server, with the shared schema; dropped on exit."""
    server = make_url(database_url(settings))
    name = f"ensemble_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = connect(server.set(database=name).render_as_string(hide_password=False), pool_size=pool_size)
    try:
        create_shared_schema(db.engine)
        yield db
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
