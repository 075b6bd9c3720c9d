"""The contract with SPA and mobile clients: the exported SDL and the operations they send."""

from __future__ import annotations

from pathlib import Path

import strawberry
from graphql import parse, validate

CONTRACT_DIR = Path(__file__).resolve().parents[2] / "frontend_contract"
SDL_PATH = CONTRACT_DIR / "schema.graphql"
OPERATIONS_DIR = CONTRACT_DIR / "operations"


def sdl(schema: strawberry.Schema) -> str:
    return schema.as_str() + "\n"


def write_sdl(schema: strawberry.Schema) -> Path:
    SDL_PATH.write_text(sdl(schema))
    return SDL_PATH


def operation_problems(schema: strawberry.Schema) -> dict[str, list[str]]:
    """Validation errors of every contract operation file against the schema, by file name."""
    problems: dict[str, list[str]] = {}
    for path in sorted(OPERATIONS_DIR.glob("*.graphql")):
        errors = validate(schema._schema, parse(path.read_text()))
        if errors:
            problems[path.name] = [e.message for e in errors]
    return problems
