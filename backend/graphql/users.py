"""The clinic's people who sign in: the tenant admin lists them and invites new ones; an invited
user sets their password with the code the invitation email carries (backend.identity.invitations).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import strawberry
from sqlalchemy import select

from backend.clients.models import Client
from backend.errors import FieldProblem
from backend.graphql.access import Public, allow
from backend.graphql.context import Context
from backend.graphql.errors import InvalidInput, NotFound
from backend.graphql.relay import parse_id
from backend.graphql.transactions import Atomic
from backend.identity.invitations import (
    InvitationDraft,
    Invited,
    MembershipChange,
    accept,
    change_membership,
    invite,
    reissue,
)
from backend.identity.models import Membership, User
from backend.notifications.delivery import queue_notification

INVITATION_TEMPLATE = "user.invitation"
NO_SUCH_CLIENT = FieldProblem("clientId", "not_found", "does not name a client of this clinic")


def invitation_body(code: str) -> str:
    """The email: the code only (no clinic or patient details), for the app's accept screen."""
    return (
        "You have been invited to a clinic on Ensemble. Open the app's invitation screen and enter "
        f"this code within 7 days to set your password: {code}"
    )


@strawberry.type
class ClinicUser:
    user_id: strawberry.ID
    email: str
    display_name: str
    roles: list[str]
    active: bool
    client_id: strawberry.ID | None
    invitation_pending: bool = strawberry.field(description="Invited and no password set yet")

    @classmethod
    def of(cls, user: User, membership: Membership) -> ClinicUser:
        return cls(
            user_id=strawberry.ID(str(user.id)),
            email=user.email,
            display_name=user.display_name,
            roles=list(membership.roles),
            active=membership.active,
            client_id=strawberry.ID(str(membership.client_id)) if membership.client_id else None,
            invitation_pending=user.password_hash is None,
        )


@strawberry.input
class InviteUserInput:
    email: str
    display_name: str
    roles: list[str] = strawberry.field(description="tenant_admin, clinician, trainee, supervisor, ...")
    client_id: strawberry.ID | None = strawberry.field(
        default=None, description="For the client role: the client record this user is"
    )


@strawberry.type
class UserInvited:
    user: ClinicUser


@strawberry.type
class InvitationResent:
    user: ClinicUser


@strawberry.type
class InvitationAccepted:
    email: str


@strawberry.input
class UpdateMembershipInput:
    user_id: strawberry.ID
    roles: list[str] | None = strawberry.field(default=None, description="Null: unchanged")
    active: bool | None = strawberry.field(
        default=None, description="False: access here ends at the user's next request; null: unchanged"
    )


@strawberry.type
class MembershipUpdated:
    user: ClinicUser


InviteUserResult = Annotated[UserInvited | InvalidInput, strawberry.union("InviteUserResult")]
UpdateMembershipResult = Annotated[
    MembershipUpdated | InvalidInput | NotFound, strawberry.union("UpdateMembershipResult")
]
ResendInvitationResult = Annotated[
    InvitationResent | InvalidInput | NotFound, strawberry.union("ResendInvitationResult")
]
AcceptInvitationResult = Annotated[
    InvitationAccepted | InvalidInput, strawberry.union("AcceptInvitationResult")
]


@strawberry.type
class UserQueries:
    @strawberry.field(permission_classes=[allow("user", "manage")])
    async def clinic_users(self, info: strawberry.Info[Context, Any]) -> list[ClinicUser]:
        """Everyone with a membership in this clinic, by name."""
        context = info.context
        rows = await context.session.execute(
            select(User, Membership)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.tenant_id == context.require_principal().tenant_id)
            .order_by(User.display_name, User.id)
        )
        return [ClinicUser.of(user, membership) for user, membership in rows.all()]


def _email_code(context: Context, invited: Invited) -> None:
    if invited.code is not None:
        queue_notification(
            context.session, "email", invited.user.email, INVITATION_TEMPLATE, invitation_body(invited.code)
        )


@strawberry.type
class UserMutations:
    @strawberry.mutation(permission_classes=[allow("user", "manage")], extensions=[Atomic()])
    async def invite_user(
        self, info: strawberry.Info[Context, Any], input: InviteUserInput
    ) -> InviteUserResult:
        """Give an email these roles here; a new user is emailed a code to set their password."""
        context = info.context
        session = context.session
        client_id = parse_id(input.client_id, "clientId") if input.client_id is not None else None
        if client_id is not None and await session.get(Client, client_id) is None:
            return InvalidInput.of([NO_SUCH_CLIENT])
        draft = InvitationDraft(input.email, input.display_name, list(input.roles), client_id)
        invited = await invite(session, context.require_principal().tenant_id, draft, datetime.now(UTC))
        _email_code(context, invited)
        context.audit("create", "membership", str(invited.user.id), client_id)
        return UserInvited(user=ClinicUser.of(invited.user, invited.membership))

    @strawberry.mutation(permission_classes=[allow("user", "manage")], extensions=[Atomic()])
    async def resend_invitation(
        self, info: strawberry.Info[Context, Any], user_id: strawberry.ID
    ) -> ResendInvitationResult:
        """Email a new code to someone invited here who has not set a password; earlier codes stop
        working."""
        context = info.context
        uid = parse_id(user_id, "userId")
        invited = await reissue(
            context.session, context.require_principal().tenant_id, uid, datetime.now(UTC)
        )
        if invited is None:
            return NotFound.of("userId")
        _email_code(context, invited)
        context.audit("update", "invitation", str(invited.user.id), invited.membership.client_id)
        return InvitationResent(user=ClinicUser.of(invited.user, invited.membership))

    @strawberry.mutation(permission_classes=[allow("user", "manage")], extensions=[Atomic()])
    async def update_membership(
        self, info: strawberry.Info[Context, Any], input: UpdateMembershipInput
    ) -> UpdateMembershipResult:
        """Change another user's roles here, or end (or restore) their access to this clinic."""
        context = info.context
        principal = context.require_principal()
        user_id = parse_id(input.user_id, "userId")
        change = MembershipChange(list(input.roles) if input.roles is not None else None, input.active)
        found = await change_membership(
            context.session, principal.tenant_id, user_id, principal.user_id, change
        )
        if found is None:
            return NotFound.of("userId")
        user, membership = found
        context.audit("update", "membership", str(user.id), membership.client_id)
        return MembershipUpdated(user=ClinicUser.of(user, membership))

    @strawberry.mutation(permission_classes=[Public], extensions=[Atomic()])
    async def accept_invitation(
        self, info: strawberry.Info[Context, Any], token: str, password: str
    ) -> AcceptInvitationResult:
        """Set the password of an invited user with the emailed code; then sign in with `login`."""
        user = await accept(info.context.session, token, password, datetime.now(UTC))
        return InvitationAccepted(email=user.email)
