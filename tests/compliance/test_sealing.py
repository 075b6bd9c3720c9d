"""Sealing on real PostgreSQL: every event exactly once and in order, append-only storage, tampering
found at the right position by `verify` (library and CLI), keys from the clinic's keyring, the worker."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateSchema, DropSchema
from typer.testing import CliRunner

from backend.compliance.audit import cli as audit_cli
from backend.compliance.audit.chain import hash_at
from backend.compliance.audit.sealed_models import SealedAuditEntry
from backend.compliance.audit.sealing import entry_from_row, seal_clinic, verify_clinic
from backend.compliance.audit.verification import ProblemKind
from backend.compliance.encryption.keys import forget_keyrings, rotate_data_key
from backend.database import Database
from backend.tenants.migrations import script_directory, upgrade_tenant_schema
from backend.tenants.models import Tenant
from backend.tenants.registry import TenantRef, TenantRegistry
from backend.tenants.routing import tenant_engine
from backend.workers.audit_sealing import AUDIT_QUEUE, SealingNudger
from backend.workers.broker import setup_broker
from tests.compliance.audit_support import (
    checkpoint_positions,
    sealed_records,
    tamper,
    tamper_access,
    unsealed,
    write_events,
)
from tests.workers.test_end_to_end import WorkerProcess, wait_for, worker_process

__all__ = ["worker_process"]  # the real-worker fixture, shared with tests/workers

runner = CliRunner()


def seal(database: Database, clinic: Tenant, batch_size: int = 10_000, checkpoint_every: int = 4) -> int:
    """Seal the clinic's pending events, keeping a checkpoint every 4 positions (10,000 in production)."""
    return seal_clinic(database.engine, clinic.schema_name, clinic.id, batch_size, checkpoint_every).sealed


def sealed_clinic(database: Database, clinic: Tenant, count: int = 12) -> list[int]:
    """A clinic with `count` events sealed in runs of 3: checkpoints kept at 4, 8, 12, the head signed."""
    ids: list[int] = []
    for _ in range(0, count, 3):
        ids += write_events(database, clinic, 3)
        seal(database, clinic)
    return ids


def test_sealing_moves_every_event_once_in_order_and_leaves_no_plaintext_behind(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """25 events sealed in batches of 10: all 25 in id order, none left unsealed, checkpoints kept."""
    clinic = make_clinic()
    ids = write_events(database, clinic, 25)
    assert seal(database, clinic, batch_size=10) == 25
    assert seal(database, clinic) == 0
    records = sealed_records(database, clinic)
    assert [r.source_id for _, r in records] == ids
    assert [position for position, _ in records] == list(range(1, 26))
    assert unsealed(database, clinic) == 0
    assert checkpoint_positions(database, clinic) == [4, 8, 12, 16, 20, 24]
    assert verify_clinic(database.engine, clinic.schema_name, clinic.id).ok


def test_events_written_while_sealing_runs_are_each_sealed_exactly_once_in_each_writers_order(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """Three writers commit 60 small transactions each while two sealers run: 540 events, each once."""
    clinic = make_clinic()
    written: dict[int, list[int]] = {}
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            written[n] = [i for _ in range(60) for i in write_events(database, clinic, 3, label=f"w{n}")]
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def sealer() -> None:
        try:
            while not stop.is_set():
                seal(database, clinic, batch_size=25)
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    sealers = [threading.Thread(target=sealer) for _ in range(2)]
    for thread in [*sealers, *writers]:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in sealers:
        thread.join()
    seal(database, clinic)

    assert not errors
    records = sealed_records(database, clinic)
    sealed_ids = [r.source_id for _, r in records]
    assert sorted(sealed_ids) == sorted(i for ids in written.values() for i in ids)
    assert len(set(sealed_ids)) == len(sealed_ids) == 540
    position_of = {r.source_id: position for position, r in records}
    for ids in written.values():
        assert [position_of[i] for i in ids] == sorted(position_of[i] for i in ids)
    assert unsealed(database, clinic) == 0
    assert verify_clinic(database.engine, clinic.schema_name, clinic.id).ok


def test_sealed_entries_and_checkpoints_cannot_be_changed_or_removed(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """UPDATE, DELETE and TRUNCATE of the sealed tables are refused by the database itself."""
    clinic = make_clinic()
    sealed_clinic(database, clinic, 6)
    entries = f'"{clinic.schema_name}".sealed_audit_entries'
    checkpoints = f'"{clinic.schema_name}".audit_checkpoints'
    for statement in (
        f"UPDATE {entries} SET outside_care = NOT outside_care",
        f"DELETE FROM {entries} WHERE seq = 1",
        f"TRUNCATE {entries}",
        f"DELETE FROM {checkpoints}",
        f"UPDATE {checkpoints} SET signature = ''",
    ):
        with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
            connection.execute(text(statement))
    assert len(sealed_records(database, clinic)) == 6 and checkpoint_positions(database, clinic) == [4]


def test_the_migrations_install_the_same_append_only_triggers_as_provisioning(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """A schema built by the tenant revisions has the triggers a provisioned clinic has."""
    clinic = make_clinic()
    schema = f"sealparity_{uuid.uuid4().hex[:8]}"
    triggers = text(
        "SELECT c.relname, t.tgname, t.tgtype FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :schema AND NOT t.tgisinternal"
    )
    with database.engine.begin() as connection:
        connection.execute(CreateSchema(schema))
        upgrade_tenant_schema(connection, schema, script_directory("tenant"))
    try:
        with database.engine.connect() as connection:
            migrated = set(connection.execute(triggers, {"schema": schema}).all())
            provisioned = set(connection.execute(triggers, {"schema": clinic.schema_name}).all())
    finally:
        with database.engine.begin() as connection:
            connection.execute(DropSchema(schema, cascade=True))
    assert {name for _, name, _ in provisioned} >= {
        "sealed_audit_entries_no_change",
        "sealed_audit_entries_no_truncate",
        "audit_checkpoints_no_change",
        "audit_checkpoints_no_truncate",
    }
    assert migrated == provisioned


def problem_after(database: Database, clinic: Tenant, *statements: str) -> tuple[int, ProblemKind]:
    tamper(database, clinic, statements)
    result = verify_clinic(database.engine, clinic.schema_name, clinic.id)
    assert result.problem is not None
    return result.problem.position, result.problem.kind


def test_an_edited_ciphertext_is_found_at_its_position(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """One byte of entry 6's ciphertext changed in the database: edited at 6."""
    clinic = make_clinic()
    sealed_clinic(database, clinic)
    assert problem_after(
        database,
        clinic,
        "UPDATE {entries} SET ciphertext = set_byte(ciphertext, 20, get_byte(ciphertext, 20) # 1) "
        "WHERE seq = 6",
    ) == (6, ProblemKind.EDITED)


def test_an_edited_hash_is_found_at_its_position(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """Entry 9's stored hash replaced: edited at 9."""
    clinic = make_clinic()
    sealed_clinic(database, clinic)
    assert problem_after(database, clinic, "UPDATE {entries} SET entry_hash = sha256('x') WHERE seq = 9") == (
        9,
        ProblemKind.EDITED,
    )


def test_a_deleted_row_is_found_at_its_position(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """Entry 5 deleted: deleted at 5."""
    clinic = make_clinic()
    sealed_clinic(database, clinic)
    assert problem_after(database, clinic, "DELETE FROM {entries} WHERE seq = 5") == (5, ProblemKind.DELETED)


def test_a_forged_row_inserted_in_the_middle_is_found_at_its_position(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """Entries 5..12 moved to 6..13 and a forged, correctly linked and hashed row put at 5: inserted at 5."""
    clinic = make_clinic()
    sealed_clinic(database, clinic)
    with tenant_engine(database.engine, clinic.schema_name).connect() as connection:
        fifth = connection.execute(select(SealedAuditEntry).where(SealedAuditEntry.seq == 5)).one()
    forged = dataclasses.replace(entry_from_row(fifth), ciphertext=b"\x00" * 12 + b"forged audit entry....")
    forged = dataclasses.replace(forged, entry_hash=hash_at(forged, 5))
    values = {f.name: getattr(forged, f.name) for f in dataclasses.fields(forged)}
    shift = [
        "UPDATE {entries} SET seq = -seq - 1 WHERE seq >= 5",
        "UPDATE {entries} SET seq = -seq WHERE seq < 0",
    ]
    tamper(database, clinic, shift)
    with tamper_access(database, clinic) as connection:
        connection.execute(insert(SealedAuditEntry).values(**values, sealed_at=fifth.sealed_at))
    result = verify_clinic(database.engine, clinic.schema_name, clinic.id)
    assert result.problem is not None
    assert (result.problem.position, result.problem.kind) == (5, ProblemKind.INSERTED)


def test_two_swapped_rows_are_found_as_reordered_at_the_first(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """Entries 3 and 10 trade positions: reordered at 3."""
    clinic = make_clinic()
    sealed_clinic(database, clinic)
    assert problem_after(
        database,
        clinic,
        "UPDATE {entries} SET seq = -3 WHERE seq = 3",
        "UPDATE {entries} SET seq = 3 WHERE seq = 10",
        "UPDATE {entries} SET seq = 10 WHERE seq = -3",
    ) == (3, ProblemKind.REORDERED)


def test_a_forged_checkpoint_signature_is_found_at_its_position(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """The checkpoint at 8 gets another signature: bad_checkpoint at 8."""
    clinic = make_clinic()
    sealed_clinic(database, clinic)
    assert checkpoint_positions(database, clinic) == [4, 8, 12]
    assert problem_after(
        database, clinic, "UPDATE {checkpoints} SET signature = sha512('forged') WHERE seq = 8"
    ) == (8, ProblemKind.BAD_CHECKPOINT)


def test_entries_cut_from_the_end_are_found_by_the_signed_head(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """The last two entries deleted (past the last kept checkpoint; the head signed 12): deleted at 11."""
    clinic = make_clinic()
    sealed_clinic(database, clinic)
    assert problem_after(database, clinic, "DELETE FROM {entries} WHERE seq > 10") == (
        11,
        ProblemKind.DELETED,
    )


def test_a_forged_head_signature_is_found_at_the_head(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """The chain head's signature replaced: bad_checkpoint at 12."""
    clinic = make_clinic()
    sealed_clinic(database, clinic)
    head = f'"{clinic.schema_name}".audit_chain_head'
    assert problem_after(database, clinic, f"UPDATE {head} SET signature = sha512('forged')") == (
        12,
        ProblemKind.BAD_CHECKPOINT,
    )


@pytest.fixture
def cli_database(database: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setattr(audit_cli, "get_database", lambda: database)
    return database


def test_the_cli_seals_then_verifies_and_names_the_first_bad_position(
    cli_database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """`audit seal` seals; `audit verify` exits 0 when intact, 1 naming position and kind after a delete."""
    clinic = make_clinic()
    write_events(cli_database, clinic, 7)
    sealed = runner.invoke(audit_cli.audit_app, ["seal", "--clinic", clinic.slug])
    intact = runner.invoke(audit_cli.audit_app, ["verify", "--clinic", clinic.slug])
    tamper(cli_database, clinic, ["DELETE FROM {entries} WHERE seq = 2"])
    broken = runner.invoke(audit_cli.audit_app, ["verify", "--clinic", clinic.slug])
    unknown = runner.invoke(audit_cli.audit_app, ["verify", "--clinic", "no-such-clinic"])

    assert sealed.exit_code == 0 and "sealed 7 events" in sealed.output
    assert intact.exit_code == 0 and "OK, 7 entries" in intact.output
    assert broken.exit_code == 1 and "deleted at position 2" in broken.output
    assert unknown.exit_code == 2


def test_entries_sealed_before_and_after_a_key_rotation_all_verify(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """Sealing uses the clinic's current key version; after a rotation both versions verify."""
    clinic = make_clinic()
    write_events(database, clinic, 3)
    seal(database, clinic)
    with database.engine.begin() as connection:
        new_version = rotate_data_key(connection, clinic.id, activate_in=0)
    forget_keyrings(clinic.id)
    write_events(database, clinic, 3)
    seal(database, clinic)
    with tenant_engine(database.engine, clinic.schema_name).connect() as connection:
        versions = list(
            connection.scalars(select(SealedAuditEntry.key_version).order_by(SealedAuditEntry.seq))
        )
    assert versions == [new_version - 1] * 3 + [new_version] * 3
    assert verify_clinic(database.engine, clinic.schema_name, clinic.id).ok


class OnlyClinics(TenantRegistry):
    """The registry narrowed to this test's clinics (others in the run's database are not its business)."""

    def __init__(self, engine: Engine, ids: set[uuid.UUID]) -> None:
        super().__init__(engine, ttl_seconds=0)
        self.ids = ids

    def active(self) -> list[TenantRef]:
        return [tenant for tenant in super().active() if tenant.id in self.ids]


@pytest.fixture
def audit_broker(database: Database) -> Iterator[StubBroker]:
    broker = StubBroker()
    setup_broker(broker, engine=database.engine, registry=TenantRegistry(database.engine))
    yield broker
    broker.close()


def test_the_drainers_nudge_makes_a_worker_seal_only_clinics_with_pending_events(
    database: Database, make_clinic: Callable[..., Tenant], audit_broker: StubBroker
) -> None:
    """One nudge per clinic with unsealed events; the actor seals them; a second pass sends nothing."""
    busy, idle = make_clinic(), make_clinic()
    write_events(database, busy, 5)
    nudger = SealingNudger(database.engine, OnlyClinics(database.engine, {busy.id, idle.id}), audit_broker, 0)
    worker = Worker(audit_broker, worker_timeout=50)
    worker.start()
    try:
        nudged = nudger.tick()
        audit_broker.join(AUDIT_QUEUE, fail_fast=True)
        again = nudger.tick()
    finally:
        worker.stop()
    assert (nudged, again) == (1, 0)
    assert unsealed(database, busy) == 0 and len(sealed_records(database, busy)) == 5
    assert sealed_records(database, idle) == []


def test_a_real_worker_process_seals_events_left_in_the_table(
    make_clinic: Callable[..., Tenant],
    database: Database,
    redis_client: redis.Redis,
    worker_process: WorkerProcess,
    tmp_path: Path,
) -> None:
    """Events committed with no message at all are sealed by the worker's own pass, exactly once."""
    clinic = make_clinic()
    ids = write_events(database, clinic, 30)
    wait_for(lambda: unsealed(database, clinic) == 0, "the worker to seal the events", worker_process)
    time.sleep(0.5)
    assert [r.source_id for _, r in sealed_records(database, clinic)] == ids
    assert verify_clinic(database.engine, clinic.schema_name, clinic.id).ok
