"""Archiving a clinic's sealed audit log before the clinic is deleted.

HIPAA asks for audit records to be kept six years (164.316(b)(2)), and deleting a clinic destroys
its keys (crypto-shredding), after which its sealed log no longer opens. So a clinic whose log holds
any entry is deleted only after its log has been sealed, verified and written out, opened, to a
file the operator keeps (`ensemble tenants delete SLUG --audit-archive FILE`).
"""

from __future__ import annotations

import csv
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, select

from backend.compliance.audit.access_reports import CSV_COLUMNS, access_entry, csv_row
from backend.compliance.audit.sealed_models import SealedAuditEntry
from backend.compliance.audit.sealing import (
    clinic_keyring,
    key_lookup,
    pending_count,
    seal_clinic,
    verify_clinic,
)
from backend.compliance.audit.verification import Verification
from backend.compliance.csv_report import cell_text
from backend.tenants.routing import tenant_engine

PAGE = 5_000


@dataclass(frozen=True)
class Archive:
    entries: int
    verification: Verification


def has_audit_log(engine: Engine, schema: str) -> bool:
    """Whether the clinic has audit events, sealed or still pending."""
    with tenant_engine(engine, schema).connect() as connection:
        sealed = connection.scalar(select(func.count()).select_from(SealedAuditEntry))
    return bool(sealed) or pending_count(engine, schema) > 0


def archive_audit_log(engine: Engine, schema: str, tenant_id: uuid.UUID, path: Path) -> Archive:
    """Seal what is pending, verify the chain, then write every entry opened as CSV to `path`.

    The file is created (never overwritten) readable by its owner only: it holds who read which
    member's record. Entries that do not open (a tampered chain) are written with `readable` false.
    """
    seal_clinic(engine, schema, tenant_id)
    verification = verify_clinic(engine, schema, tenant_id)
    written = 0
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", newline="") as out, tenant_engine(engine, schema).connect() as connection:
        lookup = key_lookup(clinic_keyring(connection, tenant_id))
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        last = 0
        while rows := connection.execute(
            select(SealedAuditEntry)
            .where(SealedAuditEntry.seq > last)
            .order_by(SealedAuditEntry.seq)
            .limit(PAGE)
        ).all():
            writer.writerows([cell_text(v) for v in csv_row(access_entry(row, lookup))] for row in rows)
            written += len(rows)
            last = rows[-1].seq
    return Archive(written, verification)
