"""Helpers for the encryption tests: a database of their own (master key rotation acts on every clinic
in a database), a documented session written through the ORM, and raw reads of stored bytes."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import StatementError
from sqlalchemy.pool import NullPool

from backend.clients.models import ClientCoverage
from backend.compliance.encryption.key_provider import EnvironmentKeyProvider
from backend.database import Database, connect
from backend.documentation.models import Addendum, MemberSection, Observation, SessionRecord, SupervisionNote
from backend.documentation.signoff import RecordStatus
from backend.documentation.templates import Scope
from backend.tenants.routing import tenant_session
from tests.documentation.group_scenario import GROUP_NOTE, Group, make_group

NewDatabase = Callable[[], Database]


def master_keys(*key_ids: str) -> EnvironmentKeyProvider:
    """A provider holding deterministic keys named `key_ids` (the first is current)."""
    spec = ",".join(f"{k}:{base64.b64encode(k.encode().ljust(32, b'.')).decode()}" for k in key_ids)
    return EnvironmentKeyProvider.parse(spec)


@pytest.fixture
def own_database(database: Database) -> Iterator[NewDatabase]:
    """Make databases on the run's server (shared schema at head), dropped afterwards."""
    from backend.tenants.provisioning import create_shared_schema

    admin = create_engine(make_url(database.url), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    made: list[tuple[str, Database]] = []

    def make() -> Database:
        name = f"ensemble_keys_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        db = connect(make_url(database.url).set(database=name).render_as_string(hide_password=False))
        made.append((name, db))
        create_shared_schema(db.engine)
        return db

    try:
        yield make
    finally:
        for name, db in made:
            db.dispose()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass(frozen=True)
class Documented:
    group: Group
    section_client: uuid.UUID
    section: dict[str, object]
    observation: str
    addendum: str
    supervision: str
    member_id: str


def document_session(engine: Engine, schema: str, marker: str | None = None) -> Documented:
    """A group with a record: group note, one member section, observation, addendum, supervision note
    and a member id, each carrying `marker` (unique text to look for in stored bytes)."""
    marker = marker or f"Zephyrine{uuid.uuid4().hex[:8]}"
    users = {role: uuid.uuid4() for role in ("lead", "trainee", "supervisor")}
    group = make_group(engine, schema, users, size=3)
    client = group.members[0].client_id
    section: dict[str, object] = {
        "participation": f"{marker} practised paced breathing and named one urge.",
        "risk": {"level": "low", "note": f"Denies SI; {marker} safety plan reviewed."},
    }
    documented = Documented(
        group,
        client,
        section,
        observation=f"{marker} was quieter than usual after the break.",
        addendum=f"Late entry: {marker} called after group to report a relapse.",
        supervision=f"Discussed {marker}'s chain analysis with the trainee.",
        member_id=f"MBR{marker}",
    )
    lead = group.staff["lead"]
    with tenant_session(engine, schema) as session:
        session.add(
            SessionRecord(
                session_id=group.session_id,
                template={},
                group_note={**GROUP_NOTE, "group_process": f"{marker} offered feedback to peers."},
                status=RecordStatus.DRAFT,
            )
        )
        session.flush()
        session.add(
            MemberSection(session_id=group.session_id, client_id=client, scope=Scope.MEMBER, content=section)
        )
        session.add(
            Observation(
                session_id=group.session_id, staff_id=lead, client_id=client, text=documented.observation
            )
        )
        session.add(
            Addendum(session_id=group.session_id, client_id=client, author_id=lead, text=documented.addendum)
        )
        session.add(SupervisionNote(session_id=group.session_id, author_id=lead, text=documented.supervision))
        coverage = session.scalars(select(ClientCoverage).where(ClientCoverage.client_id == client)).one()
        coverage.member_id = documented.member_id
    return documented


def raw_values(engine: Engine, schema: str, table: str, column: str) -> list[bytes]:
    """The stored bytes of a column's values (NULLs left out), read with plain SQL (no column types,
    no keys)."""
    with engine.connect() as conn:
        rows = conn.execute(text(f'SELECT "{column}" FROM "{schema}"."{table}"')).scalars().all()
    return [bytes(v) for v in rows if v is not None]


def cause(error: pytest.ExceptionInfo[BaseException]) -> BaseException:
    """The original exception: SQLAlchemy wraps one raised while binding parameters."""
    value = error.value
    if isinstance(value, StatementError) and value.orig is not None:
        return value.orig
    return value
