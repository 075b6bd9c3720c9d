"""A schema's shape read from the PostgreSQL catalog, with the schema name normalised out,
so two schemas (or the same schema in two databases) can be compared for equality."""

from __future__ import annotations

from sqlalchemy import Connection, text

PLACEHOLDER = "<schema>"

QUERIES = {
    "relations": """
        SELECT c.relname, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = :schema AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    """,
    "columns": """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity::text, a.attgenerated::text,
               coalesce(co.collname, '')
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0
        WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
    """,
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = :schema",
    "constraints": """
        SELECT c.relname, con.conname, con.contype::text, pg_get_constraintdef(con.oid),
               con.condeferrable, con.condeferred
        FROM pg_constraint con
        JOIN pg_class c ON c.oid = con.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = :schema
    """,
    "sequences": """
        SELECT sequencename, data_type::text, start_value, min_value, max_value, increment_by, cycle
        FROM pg_sequences WHERE schemaname = :schema
    """,
    "types": """
        SELECT t.typname, t.typtype::text,
               coalesce(array_to_string(array_agg(e.enumlabel ORDER BY e.enumsortorder), ','), '')
        FROM pg_type t
        JOIN pg_namespace n ON n.oid = t.typnamespace
        LEFT JOIN pg_enum e ON e.enumtypid = t.oid
        WHERE n.nspname = :schema AND t.typtype IN ('e', 'd')
        GROUP BY t.typname, t.typtype
    """,
}


def _normalise(value: object, schema: str) -> object:
    if isinstance(value, str):
        return value.replace(f'"{schema}".', f"{PLACEHOLDER}.").replace(f"{schema}.", f"{PLACEHOLDER}.")
    return value


def snapshot(
    connection: Connection, schema: str, exclude_tables: frozenset[str] = frozenset()
) -> dict[str, list[tuple[object, ...]]]:
    """Relations, columns (type, nullability, default, identity), indexes, constraints, sequences and
    enum/domain types of `schema`, sorted; rows whose first field is an excluded table are left out."""
    shape: dict[str, list[tuple[object, ...]]] = {}
    for kind, sql in QUERIES.items():
        rows = connection.execute(text(sql), {"schema": schema}).all()
        shape[kind] = sorted(
            tuple(_normalise(v, schema) for v in row) for row in rows if row[0] not in exclude_tables
        )
    return shape


def differences(
    left: dict[str, list[tuple[object, ...]]], right: dict[str, list[tuple[object, ...]]]
) -> dict[str, object]:
    """Per kind, the rows only on the left and only on the right (empty when the shapes match)."""
    diff: dict[str, object] = {}
    for kind in QUERIES:
        only_left = sorted(set(left[kind]) - set(right[kind]), key=repr)
        only_right = sorted(set(right[kind]) - set(left[kind]), key=repr)
        if only_left or only_right:
            diff[kind] = {"only_left": only_left, "only_right": only_right}
    return diff
