"""The compliance officer's access reports and audit-chain verification (filled in by issue 6)."""

from __future__ import annotations

import strawberry


@strawberry.type
class ComplianceQueries:
    pass


@strawberry.type
class ComplianceMutations:
    pass
