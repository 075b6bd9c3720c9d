"""A tenant admin brings people into the clinic through the contract: invite, accept, sign in."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from backend.database import Database
from backend.identity.models import Invitation, Membership, User
from backend.notifications.models import Notification
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from tests.identity.flows import ME, MakeClinic, MakePerson, login
from tests.support import GraphQLClient
from tests.test_group_lifecycle import contract

FILE = "users.graphql"


def send(client: GraphQLClient, name: str, auth: str | None = None, **variables: Any) -> Any:
    """One contract operation of users.graphql, by name, signed in with `auth`: the whole response."""
    body = {"query": contract(name, FILE), "operationName": name, "variables": variables}
    headers = {"Authorization": f"Bearer {auth}"} if auth else {}
    return client.http.post("/graphql", json=body, headers=headers).json()


def op(client: GraphQLClient, name: str, auth: str | None = None, **variables: Any) -> Any:
    """Its data (no GraphQL errors allowed)."""
    answer = send(client, name, auth, **variables)
    assert not answer.get("errors"), answer["errors"]
    return answer["data"]


def emailed_code(database: Database, clinic: Tenant, email: str) -> str:
    """The code of the latest invitation email queued for `email` (the last word of its body;
    recipients are encrypted, so they are compared once read)."""
    with tenant_session(database.engine, clinic.schema_name) as session:
        invitations = session.scalars(
            select(Notification)
            .where(Notification.template == "user.invitation")
            .order_by(Notification.created_at.desc())
        )
        body = next(n.body for n in invitations if n.recipient == email)
    assert body is not None, "the invitation email was already delivered"
    return body.rsplit(" ", 1)[1]


def admin_token(client: GraphQLClient, person: MakePerson, clinic: Tenant) -> str:
    admin = person((clinic, ["tenant_admin"]))
    return str(login(client, admin.email, admin.password)["accessToken"])


def test_an_invited_clinician_sets_a_password_with_the_emailed_code_and_signs_in(
    client: GraphQLClient, person: MakePerson, make_clinic: MakeClinic, database: Database
) -> None:
    """The admin's list shows the invitation pending; the code sets the password once (a short one
    is refused naming password, a used code is refused), and the clinician signs in to this clinic."""
    clinic = make_clinic()
    admin = admin_token(client, person, clinic)
    email = f"dana.{uuid.uuid4().hex[:8]}@example.test"
    invite = {"email": email, "displayName": "Dana Reyes", "roles": ["clinician"]}
    invited = op(client, "InviteUser", admin, input=invite)["inviteUser"]
    assert invited["__typename"] == "UserInvited" and invited["user"]["invitationPending"] is True
    listed = {u["email"]: u for u in op(client, "ClinicUsers", admin)["clinicUsers"]}
    assert listed[email]["roles"] == ["clinician"] and listed[email]["invitationPending"] is True
    code = emailed_code(database, clinic, email)
    with tenant_session(database.engine, clinic.schema_name) as session:
        stored = session.scalars(
            select(Invitation.token_hash).join(User, User.id == Invitation.user_id).where(User.email == email)
        ).one()
    assert code not in stored, "only the code's hash is kept"

    short = op(client, "AcceptInvitation", token=code, password="short")["acceptInvitation"]
    assert (short["__typename"], short["field"], short["code"]) == ("InvalidInput", "password", "too_short")
    password = f"pw-{uuid.uuid4().hex}"
    accepted = op(client, "AcceptInvitation", token=code, password=password)["acceptInvitation"]
    assert accepted == {"__typename": "InvitationAccepted", "email": email}
    again = op(client, "AcceptInvitation", token=code, password=password)["acceptInvitation"]
    assert (again["__typename"], again["field"], again["code"]) == ("InvalidInput", "token", "invalid")

    session_tokens = login(client, email, password)
    me = client.data(ME, token=session_tokens["accessToken"])["me"]
    assert me["clinic"] == {"slug": clinic.slug, "roles": ["clinician"]}
    listed = {u["email"]: u for u in op(client, "ClinicUsers", admin)["clinicUsers"]}
    assert listed[email]["invitationPending"] is False


def test_a_resent_invitation_emails_a_new_code_and_the_earlier_one_stops_working(
    client: GraphQLClient, person: MakePerson, make_clinic: MakeClinic, database: Database
) -> None:
    """The admin resends a lost invitation: the new code sets the password, the first no longer does;
    once the password is set (or for an unknown user, or access ended) there is nothing to resend."""
    clinic = make_clinic()
    admin = admin_token(client, person, clinic)
    email = f"ira.{uuid.uuid4().hex[:8]}@example.test"
    invite = {"email": email, "displayName": "Ira Moss", "roles": ["clinician"]}
    user_id = op(client, "InviteUser", admin, input=invite)["inviteUser"]["user"]["userId"]
    first = emailed_code(database, clinic, email)

    resent = op(client, "ResendInvitation", admin, userId=user_id)["resendInvitation"]
    assert resent["__typename"] == "InvitationResent" and resent["user"]["invitationPending"] is True
    second = emailed_code(database, clinic, email)
    assert second != first
    password = f"pw-{uuid.uuid4().hex}"
    stale = op(client, "AcceptInvitation", token=first, password=password)["acceptInvitation"]
    assert (stale["__typename"], stale["field"], stale["code"]) == ("InvalidInput", "token", "invalid")
    assert op(client, "AcceptInvitation", token=second, password=password)["acceptInvitation"] == {
        "__typename": "InvitationAccepted",
        "email": email,
    }
    assert login(client, email, password)["clinic"] == clinic.slug

    done = op(client, "ResendInvitation", admin, userId=user_id)["resendInvitation"]
    assert (done["__typename"], done["field"], done["code"]) == ("InvalidInput", "userId", "not_pending")
    unknown = op(client, "ResendInvitation", admin, userId=str(uuid.uuid4()))["resendInvitation"]
    assert (unknown["__typename"], unknown["field"]) == ("NotFound", "userId")
    other = {
        "email": f"kai.{uuid.uuid4().hex[:8]}@example.test",
        "displayName": "Kai",
        "roles": ["clinician"],
    }
    kai = op(client, "InviteUser", admin, input=other)["inviteUser"]["user"]["userId"]
    op(client, "UpdateMembership", admin, input={"userId": kai, "active": False})
    ended = op(client, "ResendInvitation", admin, userId=kai)["resendInvitation"]
    assert (ended["__typename"], ended["field"], ended["code"]) == ("InvalidInput", "userId", "inactive")


def test_someone_another_clinic_has_gains_a_membership_and_no_code(
    client: GraphQLClient, person: MakePerson, make_clinic: MakeClinic, database: Database
) -> None:
    """A supervisor of another clinic invited here keeps their password, gets no email code, and
    can choose this clinic at sign-in; inviting them again is refused as already_member."""
    here, elsewhere = make_clinic(), make_clinic()
    admin = admin_token(client, person, here)
    sam = person((elsewhere, ["supervisor"]))
    invite = {"email": sam.email, "displayName": "Sam", "roles": ["supervisor"]}
    assert op(client, "InviteUser", admin, input=invite)["inviteUser"]["user"]["invitationPending"] is False
    with tenant_session(database.engine, here.schema_name) as session:
        assert [n for n in session.scalars(select(Notification)) if n.recipient == sam.email] == []
    assert login(client, sam.email, sam.password, here.slug)["clinic"] == here.slug
    twice = op(client, "InviteUser", admin, input=invite)["inviteUser"]
    assert (twice["__typename"], twice["field"], twice["code"]) == ("InvalidInput", "email", "already_member")


def test_bad_invitations_name_each_field_and_store_nothing_and_only_admins_invite(
    client: GraphQLClient, person: MakePerson, make_clinic: MakeClinic, database: Database
) -> None:
    """A malformed email, an unknown role, a client role without its record: each named, no user or
    membership written; a clinician may neither list nor invite."""
    clinic = make_clinic()
    admin = admin_token(client, person, clinic)
    bad = {"email": "not-an-email", "displayName": " ", "roles": ["wizard"]}
    refused = op(client, "InviteUser", admin, input=bad)["inviteUser"]
    assert {(e["field"], e["code"]) for e in refused["errors"]} == {
        ("email", "invalid"),
        ("displayName", "invalid"),
        ("roles", "unknown"),
    }
    client_role = {"email": "member@example.test", "displayName": "Member", "roles": ["client"]}
    missing = op(client, "InviteUser", admin, input=client_role)["inviteUser"]
    assert (missing["field"], missing["code"]) == ("clientId", "required")
    unknown = op(client, "InviteUser", admin, input={**client_role, "clientId": str(uuid.uuid4())})[
        "inviteUser"
    ]
    assert (unknown["field"], unknown["code"]) == ("clientId", "not_found")
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert (
            session.scalars(select(User).where(User.email.in_(["not-an-email", "member@example.test"]))).all()
            == []
        )
        assert len(session.scalars(select(Membership).where(Membership.tenant_id == clinic.id)).all()) == 1
    clinician = person((clinic, ["clinician"]))
    token = login(client, clinician.email, clinician.password)["accessToken"]
    for name, variables in (
        ("ClinicUsers", {}),
        ("InviteUser", {"input": {**bad, "email": "x@example.test"}}),
    ):
        answer = send(client, name, token, **variables)
        assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_an_admin_changes_roles_and_ends_access_from_the_next_request_but_never_their_own(
    client: GraphQLClient, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """A clinician made supervisor too has both roles on their next request; once their access ends,
    the token they hold stops working here. The admin cannot end their own access; an unknown user
    is NotFound."""
    clinic = make_clinic()
    admin = person((clinic, ["tenant_admin"]))
    admin_auth = login(client, admin.email, admin.password)["accessToken"]
    pat = person((clinic, ["clinician"]))
    pat_auth = login(client, pat.email, pat.password)["accessToken"]

    def update(**fields: Any) -> Any:
        return op(client, "UpdateMembership", admin_auth, input=fields)["updateMembership"]

    promoted = update(userId=str(pat.user_id), roles=["supervisor", "clinician"])
    assert promoted["user"]["roles"] == ["clinician", "supervisor"]
    assert client.data(ME, token=pat_auth)["me"]["clinic"]["roles"] == ["clinician", "supervisor"]
    assert update(userId=str(pat.user_id), active=False)["user"]["active"] is False
    assert client.execute(ME, token=pat_auth).get("errors"), "the held token no longer reaches this clinic"
    own = update(userId=str(admin.user_id), active=False)
    assert (own["__typename"], own["field"], own["code"]) == ("InvalidInput", "userId", "self")
    assert update(userId=str(uuid.uuid4()), active=False)["__typename"] == "NotFound"
