"""GraphQL: placeholder until its module lands."""

from __future__ import annotations

import strawberry


@strawberry.type
class EligibilityQueries:
    pass


@strawberry.type
class EligibilityMutations:
    pass
