"""The shared Casbin rules and the one enforcement point."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry

from backend.authorization.enforcer import Authorizer, get_authorizer
from backend.authorization.roles import Role
from backend.graphql.access import Authenticated, allow, check_every_root_field_guarded


def test_every_rule_names_a_known_role() -> None:
    """A typo in policy.csv would silently grant nothing; every rule's role must exist."""
    roles = {rule[0] for rule in Authorizer()._enforcer.get_policy()}
    assert roles <= {r.value for r in Role}


@pytest.mark.parametrize(
    ("roles", "resource", "action", "allowed"),
    [
        (("front_desk",), "client", "create", True),
        (("biller",), "client", "create", False),
        (("biller",), "client", "read", True),
        (("client",), "client", "read", False),
        (("client", "clinician"), "client", "read", True),
        ((), "client", "read", False),
        (("compliance_officer",), "audit", "read", True),
        (("tenant_admin",), "audit", "read", False),
    ],
)
def test_roles_are_checked_against_the_shared_rules(
    roles: tuple[str, ...], resource: str, action: str, allowed: bool
) -> None:
    """Any one of the caller's roles in the clinic may grant the action; none grants nothing."""
    assert get_authorizer().allowed(roles, resource, action) is allowed


def test_a_rule_for_an_unknown_resource_is_refused_when_declared() -> None:
    """`allow` with a misspelt resource fails at import time, not by denying or allowing later."""
    with pytest.raises(ValueError, match="no policy rule"):
        allow("clinet", "read")


def test_a_root_field_without_an_access_rule_stops_the_schema() -> None:
    """Forgetting the rule on a new field is a failure at start-up, never a default allow."""

    @strawberry.type
    class Query:
        @strawberry.field(permission_classes=[Authenticated])
        def guarded(self) -> int:
            return 1

        @strawberry.field
        def forgotten(self, info: strawberry.Info[Any, Any]) -> int:
            return 2

    with pytest.raises(RuntimeError, match=r"Query\.forgotten declares no access rule"):
        check_every_root_field_guarded(strawberry.Schema(query=Query))
