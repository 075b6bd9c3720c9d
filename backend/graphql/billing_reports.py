"""GraphQL: placeholder until its module lands."""

from __future__ import annotations

import strawberry


@strawberry.type
class BillingReportQueries:
    pass


@strawberry.type
class BillingReportMutations:
    pass
