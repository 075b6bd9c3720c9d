"""GraphQL: placeholder until its module lands."""

from __future__ import annotations

import strawberry


@strawberry.type
class AuthorizationQueries:
    pass


@strawberry.type
class AuthorizationMutations:
    pass
