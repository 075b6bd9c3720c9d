"""Benchmark: the cost of field encryption on 1,000 member sections. Not collected by pytest.

    python -m tests.bench.bench_field_encryption [--runs 15]

Creates a throwaway database on DATABASE_URL (default: the embedded server) and drops it after. Two
twin tables in one clinic schema hold the member section's columns, one with `EncryptedJSON` (what
`member_sections` uses), one with plain JSONB, mapped by identical ORM classes, so the difference is
the encryption alone (AES-GCM, the keyring routing, bytea instead of jsonb). Sections are the
genuine texts of tests/documentation/corpus/member_sections.json (about 1 KB of JSON each).

Prints medians (ms) of: writing 1,000 sections through the ORM (add_all + commit), reading them back
(ORM entities; and the content column alone), measured alternately, side by side with the ratio;
then the AES-GCM work alone per section, and the per-statement cost of the keyring routing
(`before_execute` with the keyring cached).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, String, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from backend.compliance.encryption.field_crypto import EncryptedJSON, decrypt_field, encrypt_field
from backend.compliance.encryption.field_crypto import _bind_keyring as route
from backend.compliance.encryption.keys import load_keyring
from backend.database import utcnow
from backend.settings import load_settings
from backend.tenants.provisioning import provision_tenant
from backend.tenants.routing import tenant_engine, tenant_session
from tests.support import fresh_database

CORPUS = Path(__file__).resolve().parent.parent / "documentation" / "corpus" / "member_sections.json"
SECTIONS = 1000


class BenchBase(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSONB}


class SealedSection(BenchBase):
    __tablename__ = "bench_sections_sealed"

    session_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(30))
    content: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON("bench_sections_sealed.content"))
    name_flags: Mapped[list[Any]] = mapped_column(EncryptedJSON("bench_sections_sealed.name_flags"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlainSection(BenchBase):
    __tablename__ = "bench_sections_plain"

    session_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(30))
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    name_flags: Mapped[list[Any]] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


Model = type[SealedSection] | type[PlainSection]


def corpus_sections(count: int) -> list[dict[str, Any]]:
    sessions = json.loads(CORPUS.read_text())["sessions"]
    texts = [m["content"] for s in sessions for m in s["members"]]
    return [texts[i % len(texts)] for i in range(count)]


def paired(plain: Callable[[], object], sealed: Callable[[], object], runs: int) -> tuple[float, float]:
    """Medians (ms) of the two, measured alternately so drift affects both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for fn, into in ((plain, times[0]), (sealed, times[1])):
            start = time.perf_counter()
            fn()
            into.append((time.perf_counter() - start) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def write(engine: Engine, schema: str, model: Model, contents: list[dict[str, Any]]) -> uuid.UUID:
    session_id = uuid.uuid4()
    with tenant_session(engine, schema) as session:
        session.add_all(
            [
                model(session_id=session_id, client_id=uuid.uuid4(), scope="member", content=c, name_flags=[])
                for c in contents
            ]
        )
    return session_id


def read_entities(engine: Engine, schema: str, model: Model, session_id: uuid.UUID) -> int:
    with tenant_session(engine, schema) as session:
        rows = session.scalars(select(model).where(model.session_id == session_id)).all()
        return sum(len(r.content) for r in rows)


def read_content(engine: Engine, schema: str, model: Model, session_id: uuid.UUID) -> int:
    with tenant_session(engine, schema) as session:
        return sum(
            len(c) for c in session.scalars(select(model.content).where(model.session_id == session_id))
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with fresh_database(load_settings()) as db:
        clinic = provision_tenant(db.engine, "bench-crypto", "Bench")
        schema = clinic.schema_name
        BenchBase.metadata.create_all(tenant_engine(db.engine, schema))
        contents = corpus_sections(SECTIONS)
        size = statistics.mean(len(json.dumps(c)) for c in contents)
        print(f"{SECTIONS} member sections of {size:.0f} bytes of JSON on average, {args.runs} runs each\n")

        for model in (PlainSection, SealedSection):
            write(db.engine, schema, model, contents)  # warm-up
        sid = {model: write(db.engine, schema, model, contents) for model in (PlainSection, SealedSection)}
        rows: list[tuple[str, float, float]] = []
        for what, action in (
            ("write", lambda m: write(db.engine, schema, m, contents)),
            ("read entities", lambda m: read_entities(db.engine, schema, m, sid[m])),
            ("read content column", lambda m: read_content(db.engine, schema, m, sid[m])),
        ):
            plain, sealed = paired(
                lambda a=action: a(PlainSection), lambda a=action: a(SealedSection), args.runs
            )
            rows.append((what, plain, sealed))
        print(f"{'1,000 sections':<28}{'plain JSONB':>14}{'encrypted':>14}{'ratio':>9}{'per section':>14}")
        for what, plain, sealed in rows:
            extra = (sealed - plain) / SECTIONS * 1000
            print(f"{what:<28}{plain:>11.1f} ms{sealed:>11.1f} ms{sealed / plain:>8.2f}x{extra:>+10.1f} us")

        with db.engine.connect() as conn:
            keyring = load_keyring(conn, clinic.id)
        payloads = [json.dumps(c, separators=(",", ":")).encode() for c in contents]
        column = "member_sections.content"
        sealed_values: list[bytes] = []
        encrypt = median_ms(
            lambda: sealed_values.extend(encrypt_field(keyring, column, p) for p in payloads), 5
        )
        decrypt = median_ms(lambda: [decrypt_field(keyring, column, v) for v in sealed_values[:SECTIONS]], 5)
        print(
            f"\nAES-GCM alone: {encrypt / SECTIONS * 1000:.1f} us to seal, "
            f"{decrypt / SECTIONS * 1000:.1f} us to open a section"
        )

        calls = 100_000
        options = {"schema_translate_map": {None: schema}}
        with db.engine.connect() as conn:
            hook = median_ms(lambda: [route(conn, None, (), {}, options) for _ in range(calls)], 5)
        print(f"Keyring routing (before_execute, cached keyring): {hook / calls * 1000:.2f} us a statement")


if __name__ == "__main__":
    main()
