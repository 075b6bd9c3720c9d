"""GraphQL: placeholder until its module lands."""

from __future__ import annotations

import strawberry


@strawberry.type
class BillingClaimQueries:
    pass


@strawberry.type
class BillingClaimMutations:
    pass
