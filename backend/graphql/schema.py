"""The GraphQL schema: root types merged from the domain modules, plus production limits."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.tools import merge_types

from backend.graphql.access import check_every_root_field_guarded
from backend.graphql.clients import ClientMutations, ClientNode, ClientQueries
from backend.graphql.errors import AccessError
from backend.graphql.transactions import RequestTransaction
from backend.graphql.viewer import ViewerQueries

Query = merge_types("Query", (ViewerQueries, ClientQueries))
Mutation = merge_types("Mutation", (ClientMutations,))

MAX_DEPTH = 10
MAX_ALIASES = 20
MAX_TOKENS = 2000


def _mask(error: GraphQLError) -> bool:
    """Show access and input errors; hide everything else (it may quote data or internals)."""
    original = error.original_error
    return (
        not isinstance(original, AccessError) and not isinstance(error, AccessError) and original is not None
    )


def build_schema(production: bool, max_depth: int = MAX_DEPTH) -> strawberry.Schema:
    extensions: list[object] = [
        RequestTransaction,
        QueryDepthLimiter(max_depth=max_depth),
        MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        MaxTokensLimiter(max_token_count=MAX_TOKENS),
    ]
    if production:
        extensions += [MaskErrors(should_mask_error=_mask), DisableIntrospection()]
    schema = strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[ClientNode],
        extensions=extensions,  # type: ignore[arg-type]
    )
    check_every_root_field_guarded(schema)
    return schema
