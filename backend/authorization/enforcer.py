"""The one enforcement point: may a caller holding these roles do this action on this resource?"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import casbin

HERE = Path(__file__).parent


class Authorizer:
    def __init__(
        self, model_path: Path = HERE / "model.conf", policy_path: Path = HERE / "policy.csv"
    ) -> None:
        self._enforcer = casbin.Enforcer(str(model_path), str(policy_path))

    def allowed(self, roles: tuple[str, ...], resource: str, action: str) -> bool:
        return any(self._allowed_for_role(role, resource, action) for role in roles)

    @lru_cache(maxsize=4096)  # noqa: B019 - the enforcer lives for the process; rules are static
    def _allowed_for_role(self, role: str, resource: str, action: str) -> bool:
        return bool(self._enforcer.enforce(role, resource, action))

    def allowed_as(self, roles: tuple[str, ...], resource: str, action: str, relation: str) -> bool:
        """May a caller holding these roles, related to the resource this way, do the action (p2 rules)?"""
        return any(self._allowed_as_role(role, resource, action, relation) for role in roles)

    @lru_cache(maxsize=4096)  # noqa: B019 - as above
    def _allowed_as_role(self, role: str, resource: str, action: str, relation: str) -> bool:
        context = self._enforcer.new_enforce_context("2")
        return bool(self._enforcer.enforce(context, role, resource, action, relation))

    def known(self, resource: str, action: str) -> bool:
        """Whether any rule names this resource and action (guards against typos in resolvers)."""
        return any(rule[1] == resource and rule[2] == action for rule in self._enforcer.get_policy())


@lru_cache(maxsize=1)
def get_authorizer() -> Authorizer:
    return Authorizer()
