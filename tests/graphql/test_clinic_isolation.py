"""No request of a user of clinic A ever returns a row of clinic B, whatever ids it sends."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session
from strawberry.relay import to_base64

from backend.clients.models import Client
from backend.compliance.audit.events import AuditEvent
from backend.database import Database
from backend.settings import Settings
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from tests.support import GraphQLClient, make_account

REGISTER = """
mutation Register($input: RegisterClientInput!) {
  registerClient(input: $input) {
    __typename
    ... on RegisterClientSuccess { client { id firstName } }
    ... on InvalidInput { field code message errors { field code } }
  }
}"""
LIST = "query { clients(first: 50) { edges { node { id firstName lastName } } } }"
NODE = "query($id: ID!) { node(id: $id) { id ... on Client { firstName } } }"


def register(graphql: GraphQLClient, token: str, first: str, last: str = "Rivera") -> str:
    data = graphql.data(
        REGISTER, {"input": {"firstName": first, "lastName": last, "dateOfBirth": "1990-04-02"}}, token
    )
    assert data["registerClient"]["__typename"] == "RegisterClientSuccess"
    return str(data["registerClient"]["client"]["id"])


def test_user_of_clinic_a_never_sees_clinic_b_rows(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Lists and lookups by id, even with B's real ids, return only A's clients."""
    a, b = make_clinic("A"), make_clinic("B")
    alice = make_account(database, settings, a, ["front_desk"])
    bob = make_account(database, settings, b, ["front_desk"])
    a_id = register(graphql, alice.token, "Ana")
    b_id = register(graphql, bob.token, "Ben")

    names = [e["node"]["firstName"] for e in graphql.data(LIST, token=alice.token)["clients"]["edges"]]
    assert names == ["Ana"]
    assert graphql.data(NODE, {"id": b_id}, alice.token)["node"] is None
    assert graphql.data(NODE, {"id": a_id}, alice.token)["node"]["firstName"] == "Ana"


def test_user_of_two_clinics_sees_each_only_when_acting_in_it(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """A token is bound to one membership: the same user sees A's rows with A's token only."""
    a, b = make_clinic("A"), make_clinic("B")
    in_a = make_account(database, settings, a, ["clinician"])
    in_b = make_account(database, settings, b, ["clinician"], user_id=in_a.user_id)
    register(graphql, in_a.token, "Ada")
    register(graphql, in_b.token, "Bea")
    assert [e["node"]["firstName"] for e in graphql.data(LIST, token=in_a.token)["clients"]["edges"]] == [
        "Ada"
    ]
    assert [e["node"]["firstName"] for e in graphql.data(LIST, token=in_b.token)["clients"]["edges"]] == [
        "Bea"
    ]
    me = graphql.data("query { me { clinic { slug } memberships { slug } } }", token=in_b.token)["me"]
    assert me["clinic"]["slug"] == b.slug
    assert sorted(m["slug"] for m in me["memberships"]) == sorted([a.slug, b.slug])


def test_token_for_a_clinic_the_user_left_grants_nothing(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Removing the membership ends access at once, even with an unexpired token."""
    from sqlalchemy import update

    from backend.identity.models import Membership

    a = make_clinic("A")
    staff = make_account(database, settings, a, ["clinician"])
    with Session(database.engine) as session, session.begin():
        session.execute(update(Membership).where(Membership.user_id == staff.user_id).values(active=False))
    body = graphql.execute(LIST, token=staff.token)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_forged_global_id_of_another_type_is_not_found(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """A global id for an unknown type or a malformed one answers a clear error, never a server error."""
    a = make_clinic("A")
    staff = make_account(database, settings, a, ["clinician"])
    body = graphql.execute(NODE, {"id": to_base64("Tenant", "x")}, staff.token)
    assert body["errors"]
    body = graphql.execute(NODE, {"id": "not-base64!"}, staff.token)
    assert body["errors"]


def test_reads_and_writes_of_client_records_are_audited(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Registering and listing a client each leave an audit event naming user, role and member."""
    a = make_clinic("A")
    staff = make_account(database, settings, a, ["front_desk"])
    register(graphql, staff.token, "Cy")
    graphql.data(LIST, token=staff.token)
    with tenant_session(database.engine, a.schema_name) as session:
        client = session.query(Client).one()
        events = session.query(AuditEvent).order_by(AuditEvent.id).all()
    assert [(e.action, e.member_id, e.user_id, e.roles) for e in events] == [
        ("create", client.id, staff.user_id, ["front_desk"]),
        ("read", client.id, staff.user_id, ["front_desk"]),
    ]
    assert all(e.tenant_id == a.id and e.client_address for e in events)
