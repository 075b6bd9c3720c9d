"""Part 2 consents, break-the-glass access and the withheld-content marker (filled in by issue 6)."""

from __future__ import annotations

import strawberry


@strawberry.type
class Part2Queries:
    pass


@strawberry.type
class Part2Mutations:
    pass
