"""Note text, risk assessments and member ids are encrypted at rest (encryption.field_crypto)."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pgserver
import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from starlette.testclient import TestClient

from backend.app import create_app
from backend.clients.models import Client, ClientCoverage
from backend.compliance.encryption.field_crypto import (
    EncryptedJSON,
    EncryptedText,
    FieldDecryptionFailed,
    FieldKeyUnavailable,
    encrypted_columns,
)
from backend.compliance.encryption.keys import forget_keyrings
from backend.database import Database
from backend.documentation.models import MemberSection, Observation, SessionRecord
from backend.notifications.delivery import queue_notification
from backend.notifications.models import Notification
from backend.settings import Settings
from backend.tables import TenantBase
from backend.tenants.migrations import route_to_schema, script_directory
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_async_session, tenant_session
from tests.compliance.key_support import cause, document_session, raw_values
from tests.documentation.test_session_record_graphql import Scenario
from tests.support import GraphQLClient

ENCRYPTED = [
    ("claims", "document"),
    ("client_coverages", "member_id"),
    ("clients", "address_line1"),
    ("clients", "city"),
    ("clients", "email"),
    ("clients", "emergency_contacts"),
    ("clients", "phone"),
    ("clients", "postal_code"),
    ("facilitator_observations", "text"),
    ("member_sections", "content"),
    ("member_sections", "name_flags"),
    ("notifications", "body"),
    ("notifications", "recipient"),
    ("record_addenda", "text"),
    ("session_records", "group_note"),
    ("supervision_notes", "text"),
]


def test_the_encrypted_columns_are_the_note_text_risk_member_identifier_and_contact_columns() -> None:
    """Exactly these columns are encrypted, each binding its own "table.column" into its ciphertexts."""
    found = encrypted_columns(TenantBase.metadata)
    assert [(table, column) for table, column, _ in found] == ENCRYPTED
    assert all(kind.column == f"{table}.{column}" for table, column, kind in found)


def test_notes_and_member_ids_round_trip_through_the_orm_and_are_stored_as_ciphertext(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """What the ORM writes it reads back unchanged; the stored bytes are versioned AES-GCM, never the text."""
    clinic = make_clinic()
    marker = f"Quillon{uuid.uuid4().hex[:8]}"
    documented = document_session(database.engine, clinic.schema_name, marker)
    with tenant_session(database.engine, clinic.schema_name) as session:
        section = session.get_one(MemberSection, (documented.group.session_id, documented.section_client))
        record = session.get_one(SessionRecord, documented.group.session_id)
        member_ids = set(session.scalars(select(ClientCoverage.member_id)))
        observation = session.scalars(select(Observation.text)).one()
    assert section.content == documented.section and section.name_flags == []
    assert marker in str(record.group_note["group_process"])
    assert documented.member_id in member_ids and observation == documented.observation

    for table, column in ENCRYPTED:
        for stored in raw_values(database.engine, clinic.schema_name, table, column):
            assert stored[:5] == b"\x01\x00\x00\x00\x01", "format 1, data key version 1"
            assert marker.encode() not in stored and b"MBR" not in stored


def test_a_ciphertext_moved_to_another_column_or_clinic_does_not_decrypt(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """A section's ciphertext pasted over the group note, or into another clinic, fails authentication."""
    north, south = make_clinic(), make_clinic()
    here = document_session(database.engine, north.schema_name)
    there = document_session(database.engine, south.schema_name)
    section = raw_values(database.engine, north.schema_name, "member_sections", "content")[0]
    with database.engine.begin() as conn:
        conn.execute(
            text(f'UPDATE "{north.schema_name}".session_records SET group_note = :v'), {"v": section}
        )
        conn.execute(text(f'UPDATE "{south.schema_name}".member_sections SET content = :v'), {"v": section})
    with pytest.raises(FieldDecryptionFailed), tenant_session(database.engine, north.schema_name) as session:
        session.get_one(SessionRecord, here.group.session_id)
    with pytest.raises(FieldDecryptionFailed), tenant_session(database.engine, south.schema_name) as session:
        session.get_one(MemberSection, (there.group.session_id, there.section_client))


def test_writing_outside_a_clinic_session_fails_closed_and_sends_nothing(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """A statement not routed through a clinic's session has no key: the note is refused, never stored."""
    clinic = make_clinic()
    documented = document_session(database.engine, clinic.schema_name)
    before = raw_values(database.engine, clinic.schema_name, "facilitator_observations", "text")
    with pytest.raises(Exception) as error, database.engine.begin() as conn:
        # The SQL would land in the clinic's tables, but no clinic session routes it.
        conn.execute(select(func.set_config("search_path", clinic.schema_name, True)))
        conn.execute(
            insert(Observation).values(
                id=uuid.uuid4(),
                session_id=documented.group.session_id,
                staff_id=documented.group.staff["supervisor"],
                text="plaintext that must never be stored",
            )
        )
    assert isinstance(cause(error), FieldKeyUnavailable)
    assert raw_values(database.engine, clinic.schema_name, "facilitator_observations", "text") == before


def test_a_clinic_without_a_data_key_cannot_store_or_read_notes(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """With its key rows gone the clinic's other data still reads, but no note is written or read."""
    clinic = make_clinic()
    documented = document_session(database.engine, clinic.schema_name)
    with database.engine.begin() as conn:
        conn.execute(text("DELETE FROM public.tenant_data_keys WHERE tenant_id = :t"), {"t": clinic.id})
    forget_keyrings(clinic.id)
    with pytest.raises(Exception) as error, tenant_session(database.engine, clinic.schema_name) as session:
        session.add(
            Observation(
                session_id=documented.group.session_id, staff_id=documented.group.staff["trainee"], text="x"
            )
        )
    assert isinstance(cause(error), FieldKeyUnavailable)
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.scalar(select(func.count()).select_from(Observation)) == 1
        with pytest.raises(FieldKeyUnavailable):
            session.scalars(select(Observation.text)).all()


def test_encrypted_columns_cannot_be_compared_or_searched_in_sql() -> None:
    """Equality, LIKE and ordering on an encrypted column are refused when the query is built."""
    for attempt in (
        lambda: ClientCoverage.member_id == "M0001",
        lambda: ClientCoverage.member_id.like("M%"),
        lambda: MemberSection.content.desc(),
        lambda: ClientCoverage.member_id != "M0001",
    ):
        with pytest.raises(TypeError, match="encrypted column"):
            attempt()
    assert str(ClientCoverage.member_id.is_(None)).endswith("IS NULL")
    assert isinstance(MemberSection.content.type, EncryptedJSON)
    assert isinstance(ClientCoverage.member_id.type, EncryptedText)


def test_an_async_session_encrypts_and_decrypts_in_sqlalchemys_greenlet(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """The keyring chosen per statement reaches the bind and result processors of an AsyncSession."""
    clinic = make_clinic()
    documented = document_session(database.engine, clinic.schema_name)
    forget_keyrings()  # the first statement of the async session loads it

    async def roundtrip() -> list[str]:
        engine = create_async_engine(database.url, poolclass=NullPool)
        try:
            async with tenant_async_session(engine, clinic.schema_name) as session, session.begin():
                session.add(
                    Observation(
                        session_id=documented.group.session_id,
                        staff_id=documented.group.staff["trainee"],
                        text="written from the event loop",
                    )
                )
            async with tenant_async_session(engine, clinic.schema_name) as session:
                return sorted((await session.scalars(select(Observation.text))).all())
        finally:
            await engine.dispose()

    assert asyncio.run(roundtrip()) == sorted([documented.observation, "written from the event loop"])
    stored = raw_values(database.engine, clinic.schema_name, "facilitator_observations", "text")
    assert all(b"event loop" not in v for v in stored)


# --- a pg_dump of the database after documenting a session through GraphQL -----------------------


@pytest.fixture
def api(app_database: Database, settings: Settings) -> Iterator[GraphQLClient]:
    with TestClient(create_app(settings, app_database)) as http:
        yield GraphQLClient(http)


def _major(version_text: str) -> int:
    found = re.search(r"\(PostgreSQL\)\s+(\d+)", version_text)
    assert found, version_text
    return int(found.group(1))


def pg_dump_for(server_major: int) -> str:
    """A pg_dump of the server's major version (pgserver ships one with its binaries; the machine has 15)."""
    candidates = [
        str(Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump"),
        f"/usr/lib/postgresql/{server_major}/bin/pg_dump",
        shutil.which("pg_dump") or "",
    ]
    usable = []
    for path in filter(None, candidates):
        if Path(path).exists():
            out = subprocess.run([path, "--version"], capture_output=True, text=True, check=True).stdout  # noqa: S603
            usable.append((_major(out), path))
    exact = [path for major, path in usable if major == server_major]
    newer = sorted((major, path) for major, path in usable if major > server_major)
    assert exact or newer, f"no pg_dump for PostgreSQL {server_major}: {usable}"
    return exact[0] if exact else newer[0][1]


def test_a_dump_of_the_database_shows_no_note_text_or_member_id(
    api: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """After documenting and signing a session through GraphQL, pg_dump output holds none of its note text."""
    marker = f"Vantablue{uuid.uuid4().hex[:8]}"
    s = Scenario(api, database, settings, make_clinic())
    s.record_attendance()
    group_note = {
        "theme": "distress_tolerance",
        "activities": f"{marker} mindfulness exercise and TIPP practice.",
        "interventions": "Modelling, rehearsal, validation.",
        "skills_taught": "TIPP",
        "group_process": f"Cohesion good; {marker} offered feedback.",
    }
    saved = s.lead.data("SaveGroupNote", input={"sessionId": s.sid, "content": group_note})["saveGroupNote"]
    assert saved["__typename"] == "RecordSaved", saved
    member = s.group.members[0]
    section = {
        "participation": f"{member.first_name} described a {marker} urge and used paced breathing.",
        "response_to_interventions": "Engaged with rehearsal.",
        "goal_progress": [{"goalId": str(member.goal_id), "progress": "improved", "note": f"{marker} goal"}],
        "diary_card_review": "Reviewed.",
        "risk": {"level": "low", "note": f"Denies SI; {marker} safety plan current."},
        "plan": "Continue.",
    }
    assert s.save_section(member.client_id, section)["__typename"] == "RecordSaved"
    member_id = f"ZX{marker.upper()}"
    with tenant_session(database.engine, s.clinic.schema_name) as session:
        coverage = session.scalars(
            select(ClientCoverage).where(ClientCoverage.client_id == member.client_id)
        ).one()
        coverage.member_id = member_id

    view = s.lead.data("SessionRecord", sessionId=s.sid)["sessionRecord"]
    assert view["groupNote"]["activities"] == group_note["activities"], "readable through the API"
    shown = next(m for m in view["members"] if m["clientId"] == str(member.client_id))
    assert shown["section"]["content"]["risk"] == section["risk"]

    with database.engine.connect() as conn:
        server_major = int(conn.scalar(text("SHOW server_version_num")) or 0) // 10000
    url = make_url(database.url).set(drivername="postgresql").render_as_string(hide_password=False)
    dump = subprocess.run(  # noqa: S603 - a PostgreSQL client binary on the test database
        [pg_dump_for(server_major), "--no-owner", "--dbname", url], capture_output=True, check=True
    ).stdout
    assert s.clinic.schema_name.encode() in dump, "the dump covers the clinic"
    assert member.last_name.encode() in dump, "columns not encrypted (names) are in it, in clear"
    for secret in (marker, marker.upper(), "described a", "Denies SI;", member_id):
        assert secret.encode() not in dump, f"{secret!r} found in the dump"


# --- the migration of an existing clinic ------------------------------------------------------------


#: The revisions that encrypt columns: the notes and identifiers, the clients' contact details, then
#: the notifications' recipients and bodies.
FIELD_REVISIONS = ("4d9a2e3fbc03", "9b2c3d4e5f07", "a0c1d2e3f408")


def run_revision(database: Database, schema: str, step: str) -> None:
    """Run the field-encryption revisions' upgrades (in order) or downgrades (in reverse) on one
    clinic, as the migrate command does."""
    order = FIELD_REVISIONS if step == "upgrade" else tuple(reversed(FIELD_REVISIONS))
    for revision in order:
        module = script_directory("tenant").get_revision(revision).module
        with database.engine.begin() as conn:
            route_to_schema(conn, schema)
            getattr(module, step)(Operations(MigrationContext.configure(conn)))


def test_migrating_an_existing_clinic_encrypts_its_plaintext_rows(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """A clinic from before field encryption (plaintext JSONB/text, no data key) is keyed and sealed,
    its clients' contact details with the rest."""
    clinic = make_clinic()
    marker = f"Oldrow{uuid.uuid4().hex[:8]}"
    documented = document_session(database.engine, clinic.schema_name, marker)
    with tenant_session(database.engine, clinic.schema_name) as session:
        pending = queue_notification(session, "email", f"{marker}@example.test", "t", f"Code {marker}")
        sent = queue_notification(session, "email", f"{marker}.2@example.test", "t", f"Code {marker}")
        sent.delivered_at = datetime.now(UTC)
    run_revision(database, clinic.schema_name, "downgrade")
    with database.engine.begin() as conn:
        # Before this revision a delivered notification kept its text.
        conn.execute(
            text(f'UPDATE "{clinic.schema_name}".notifications SET body = :b WHERE id = :i'),
            {"b": f"Code {marker}", "i": sent.id},
        )
        kinds = dict(
            conn.execute(
                text(
                    "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns"
                    " WHERE table_schema = :s AND column_name IN ('content', 'member_id', 'text', 'email')"
                ),
                {"s": clinic.schema_name},
            ).all()
        )
        plain = conn.scalar(
            text(f"SELECT content->'risk'->>'note' FROM \"{clinic.schema_name}\".member_sections")
        )
        conn.execute(text("DELETE FROM public.tenant_data_keys WHERE tenant_id = :t"), {"t": clinic.id})
    assert (
        kinds["member_sections.content"] == "jsonb"
        and kinds["client_coverages.member_id"] == "character varying"
        and kinds["clients.email"] == "character varying"
    )
    assert plain == documented.section["risk"]["note"]  # type: ignore[index]
    forget_keyrings(clinic.id)

    run_revision(database, clinic.schema_name, "upgrade")

    for table, column in ENCRYPTED:
        for stored in raw_values(database.engine, clinic.schema_name, table, column):
            assert stored[:1] == b"\x01" and marker.encode() not in stored
    with tenant_session(database.engine, clinic.schema_name) as session:
        section = session.get_one(MemberSection, (documented.group.session_id, documented.section_client))
        assert section.content == documented.section
        assert documented.member_id in set(session.scalars(select(ClientCoverage.member_id)))
        assert all(isinstance(c, list) for c in session.scalars(select(Client.emergency_contacts)))
        kept = {n.id: (n.recipient, n.body) for n in session.scalars(select(Notification))}
    assert kept == {
        pending.id: (f"{marker}@example.test", f"Code {marker}"),
        sent.id: (f"{marker}.2@example.test", None),
    }, "sealed, and a delivered notification's text dropped"
    with database.engine.connect() as conn:
        versions = conn.scalars(
            text("SELECT version FROM public.tenant_data_keys WHERE tenant_id = :t"), {"t": clinic.id}
        ).all()
    assert versions == [1], "the migration gave the clinic its data key"
