"""Disclosures of Part 2 information: exports, accounting of disclosures (filled in by issue 6)."""

from __future__ import annotations

import strawberry


@strawberry.type
class DisclosureQueries:
    pass


@strawberry.type
class DisclosureMutations:
    pass
