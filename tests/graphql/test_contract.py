"""The frontend contract stays in step with the code."""

from __future__ import annotations

from backend.graphql.contract import OPERATIONS_DIR, SDL_PATH, operation_problems, sdl
from backend.graphql.schema import build_schema


def test_exported_sdl_matches_the_code() -> None:
    """frontend_contract/schema.graphql is what the code serves (run `ensemble schema export` to update)."""
    assert SDL_PATH.read_text() == sdl(build_schema(production=False))


def test_every_contract_operation_validates_against_the_schema() -> None:
    """Each operation SPA and mobile clients send still validates."""
    assert list(OPERATIONS_DIR.glob("*.graphql")), "the contract has no operations"
    assert operation_problems(build_schema(production=False)) == {}


def test_production_schema_serves_the_same_contract() -> None:
    """Production limits and masking change behaviour, not the schema clients code against."""
    assert sdl(build_schema(production=True)) == sdl(build_schema(production=False))
