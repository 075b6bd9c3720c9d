"""Declaring who may call a root field: every Query and Mutation field names its rule.

`allow(resource, action)` checks the caller's roles in their clinic with Casbin; `authenticated`
needs only a signed-in caller; `public` is for the sign-in flow. `check_every_root_field_guarded`
runs when the schema is built, so a field without a rule stops the server (and every test)
instead of being allowed by default.
"""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

import strawberry
from strawberry.permission import BasePermission

from backend.authorization.enforcer import get_authorizer
from backend.graphql.errors import Forbidden, Unauthenticated


class Guard(BasePermission):
    """Base of every rule; the schema check accepts only root fields carrying one."""

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        raise NotImplementedError


class Public(Guard):
    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return True


class Authenticated(Guard):
    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        if info.context.principal is None:
            raise Unauthenticated()
        return True


class _RoleRule(Guard):
    resource: ClassVar[str]
    action: ClassVar[str]

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        principal = info.context.principal
        if principal is None:
            raise Unauthenticated()
        if not get_authorizer().allowed(principal.roles, self.resource, self.action):
            raise Forbidden(self.resource, self.action)
        return True


@cache
def allow(resource: str, action: str) -> type[Guard]:
    """A rule for one (resource, action); an unknown pair is a programming error caught at import."""
    if not get_authorizer().known(resource, action):
        raise ValueError(f"no policy rule names {resource}:{action}")
    return type(f"Allow_{resource}_{action}", (_RoleRule,), {"resource": resource, "action": action})


def ensure_allowed(info: strawberry.Info, resource: str, action: str) -> None:
    """The same check for code paths that are not root fields (e.g. resolving a Node by id)."""
    allow(resource, action)().has_permission(None, info)


def check_every_root_field_guarded(schema: strawberry.Schema) -> None:
    for type_name in ("Query", "Mutation"):
        definition = schema.get_type_by_name(type_name)
        if definition is None:
            continue
        for field in definition.fields:  # type: ignore[union-attr]
            if not any(issubclass(p, Guard) for p in field.permission_classes):
                raise RuntimeError(f"{type_name}.{field.python_name} declares no access rule")
