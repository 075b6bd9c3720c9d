"""The sealed audit log: encrypted, hash-chained entries, signed checkpoints, and the chain head.

Entries and checkpoints are append-only: a trigger rejects UPDATE, DELETE and TRUNCATE (HIPAA
164.316(b)(2): keep six years; nothing in the application deletes them). The only cleartext is what
the compliance reports filter on, none of it PHI: time, action, resource type, keyed blind indexes
of the member and the user, and whether the access was outside a care relationship.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DDL,
    BigInteger,
    CheckConstraint,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import TenantBase, utcnow

#: The trigger function (one per clinic schema) that makes a table append-only.
APPEND_ONLY_FUNCTION = "audit_append_only"


class SealedAuditEntry(TenantBase):
    __tablename__ = "sealed_audit_entries"
    __table_args__ = (
        Index("ix_sealed_audit_entries_member_index_seq", "member_index", "seq"),
        Index("ix_sealed_audit_entries_user_index_seq", "user_index", "seq"),
        Index("ix_sealed_audit_entries_outside_care", "seq", postgresql_where=text("outside_care")),
    )

    # Position in the clinic's chain, 1, 2, 3... without gaps (a gap is a deleted entry).
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime]
    sealed_at: Mapped[datetime] = mapped_column(default=utcnow)
    key_version: Mapped[int]
    # AES-GCM: 12-byte nonce + ciphertext + tag; associated data: the sequence number.
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary)
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary)
    # HMAC-SHA256 (key purpose "audit-index", truncated) of the member's and the user's ids.
    member_index: Mapped[bytes | None] = mapped_column(LargeBinary)
    user_index: Mapped[bytes] = mapped_column(LargeBinary)
    action: Mapped[str] = mapped_column(String(20))
    resource_type: Mapped[str] = mapped_column(String(60))
    outside_care: Mapped[bool]


class AuditCheckpoint(TenantBase):
    """An Ed25519 signature over the chain at `seq`, kept for good: one every 10,000 entries."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    head_hash: Mapped[bytes] = mapped_column(LargeBinary)
    key_version: Mapped[int]
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditChainHead(TenantBase):
    """One row per clinic: where the chain ends, signed like a checkpoint at the end of every sealing
    transaction (so nothing committed is unsigned). Sealers lock it: one run per clinic at a time."""

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary)
    # 0 and empty until the first entry is sealed.
    key_version: Mapped[int]
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


def append_only_function_sql(qualified_name: str, percent: str = "%") -> str:
    """The trigger function: refuses any change to an existing row of the table it guards.

    `percent` is "%%" where the text is itself %-formatted (SQLAlchemy's DDL templates).
    """
    return (
        f"CREATE OR REPLACE FUNCTION {qualified_name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"RAISE EXCEPTION 'audit log is append-only: {percent} on {percent} refused', TG_OP, TG_TABLE_NAME "
        "USING ERRCODE = 'insufficient_privilege'; END $$"
    )


def append_only_trigger_sql(name: str, table: str, function: str) -> list[str]:
    """Triggers rejecting UPDATE and DELETE (per row) and TRUNCATE (per statement) on table `name`
    (written `table` in the statement, e.g. schema-qualified)."""
    return [
        f"CREATE TRIGGER {name}_no_change BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {name}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]


def _install_append_only(table: Table) -> None:
    # create_all: %(schema)s / %(fullname)s render through the connection's schema_translate_map,
    # so the triggers land in the clinic being provisioned without naming it here.
    function = f"%(schema)s.{APPEND_ONLY_FUNCTION}"
    statements = [
        append_only_function_sql(function, percent="%%"),
        *append_only_trigger_sql(table.name, "%(fullname)s", function),
    ]
    for statement in statements:
        event.listen(table, "after_create", DDL(statement))  # type: ignore[no-untyped-call]


_install_append_only(SealedAuditEntry.__table__)  # type: ignore[arg-type]
_install_append_only(AuditCheckpoint.__table__)  # type: ignore[arg-type]
