"""GraphQL: placeholder until its module lands."""

from __future__ import annotations

import strawberry


@strawberry.type
class DocumentationReadQueries:
    pass


@strawberry.type
class DocumentationReadMutations:
    pass
