"""GraphQL conventions: typed errors that store nothing, keyset pages, access rules, limits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from backend.app import create_app
from backend.clients.models import Client
from backend.database import Database
from backend.settings import Settings
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from tests.graphql.test_clinic_isolation import LIST, REGISTER, register
from tests.support import GraphQLClient, make_account


def client_count(database: Database, clinic: Tenant) -> int:
    with tenant_session(database.engine, clinic.schema_name) as session:
        return int(session.scalar(select(func.count()).select_from(Client)) or 0)


def test_bad_input_returns_typed_errors_naming_each_field_and_stores_nothing(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Blank name, future birth date and a malformed email: one InvalidInput listing all three."""
    clinic = make_clinic()
    staff = make_account(database, settings, clinic, ["front_desk"])
    bad = {"firstName": " ", "lastName": "Ng", "dateOfBirth": "2999-01-01", "email": "not-an-email"}
    result = graphql.data(REGISTER, {"input": bad}, staff.token)["registerClient"]
    assert result["__typename"] == "InvalidInput"
    assert {(e["field"], e["code"]) for e in result["errors"]} == {
        ("firstName", "required"),
        ("dateOfBirth", "in_future"),
        ("email", "invalid_format"),
    }
    assert result["field"] == "firstName" and "firstName" in result["message"]
    assert client_count(database, clinic) == 0


def test_one_bad_mutation_does_not_undo_a_good_one_in_the_same_request(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Each mutation field is its own unit: the valid one is stored, the invalid one is not."""
    clinic = make_clinic()
    staff = make_account(database, settings, clinic, ["front_desk"])
    query = """mutation {
      good: registerClient(input: {firstName: "Lu", lastName: "Ng", dateOfBirth: "1980-01-01"}) { __typename }
      bad: registerClient(input: {firstName: "", lastName: "Ng", dateOfBirth: "1980-01-01"}) { __typename }
    }"""
    data = graphql.data(query, token=staff.token)
    assert (data["good"]["__typename"], data["bad"]["__typename"]) == (
        "RegisterClientSuccess",
        "InvalidInput",
    )
    assert client_count(database, clinic) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"query": 'query { clients(first: "ten") { edges { node { id } } } }'},
        {
            "query": "query($f: Int!) { clients(first: $f) { edges { node { id } } } }",
            "variables": {"f": "x"},
        },
        {"query": "{ nonsense }"},
        {"query": "{"},
        {"variables": {}},
    ],
)
def test_malformed_requests_never_cause_a_server_error(
    graphql: GraphQLClient,
    database: Database,
    settings: Settings,
    make_clinic: Callable[..., Tenant],
    body: dict[str, object],
) -> None:
    """Wrong types, unknown fields, syntax errors and missing queries get a client error with a reason."""
    staff = make_account(database, settings, make_clinic(), ["front_desk"])
    response = graphql.http.post("/graphql", json=body, headers={"Authorization": f"Bearer {staff.token}"})
    assert 200 <= response.status_code < 500
    assert response.status_code == 400 or response.json()["errors"]


def test_clients_are_paged_by_keyset_cursor_in_name_order(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Walking the list two at a time visits every client once, in last-name order."""
    clinic = make_clinic()
    staff = make_account(database, settings, clinic, ["front_desk"])
    for first, last in [("Eve", "Baker"), ("Al", "Adams"), ("Cy", "Cole"), ("Di", "Adams"), ("Bo", "Dunn")]:
        register(graphql, staff.token, first, last)
    seen, after = [], None
    page_query = """query($after: String) { clients(first: 2, after: $after) {
        edges { node { firstName lastName } } pageInfo { hasNextPage endCursor } } }"""
    while True:
        page = graphql.data(page_query, {"after": after}, staff.token)["clients"]
        seen += [(e["node"]["lastName"], e["node"]["firstName"]) for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [("Adams", "Al"), ("Adams", "Di"), ("Baker", "Eve"), ("Cole", "Cy"), ("Dunn", "Bo")]


@pytest.mark.parametrize(
    ("args", "field"), [("first: 0", "first"), ("first: 500", "first"), ('after: "bm9wZQ=="', "after")]
)
def test_bad_page_arguments_name_the_argument(
    graphql: GraphQLClient,
    database: Database,
    settings: Settings,
    make_clinic: Callable[..., Tenant],
    args: str,
    field: str,
) -> None:
    """An out-of-range page size or a forged cursor is a BAD_USER_INPUT error naming it."""
    staff = make_account(database, settings, make_clinic(), ["front_desk"])
    body = graphql.execute(f"query {{ clients({args}) {{ edges {{ cursor }} }} }}", token=staff.token)
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": field}


def test_roles_without_the_rule_are_forbidden_and_anonymous_callers_unauthenticated(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """A biller may read but not register clients; a client-role user may not list clients."""
    clinic = make_clinic()
    biller = make_account(database, settings, clinic, ["biller"])
    member = make_account(database, settings, clinic, ["client"])
    variables = {"input": {"firstName": "A", "lastName": "B", "dateOfBirth": "1990-01-01"}}
    assert (
        graphql.execute(REGISTER, variables, biller.token)["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    )
    assert graphql.execute(LIST, token=member.token)["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert graphql.execute(LIST)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert graphql.execute(LIST, token="garbage")["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert client_count(database, clinic) == 0


def test_deep_and_aliased_queries_are_refused(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Depth and alias limits stop abusive queries before they run."""
    staff = make_account(database, settings, make_clinic(), ["front_desk"])
    aliases = " ".join(f"a{i}: me {{ email }}" for i in range(30))
    assert (
        "alias"
        in graphql.execute(f"query {{ {aliases} }}", token=staff.token)["errors"][0]["message"].lower()
    )


def test_queries_deeper_than_the_limit_are_refused(app_database: Database, settings: Settings) -> None:
    """The depth limiter is wired in (checked with a limit the current schema can reach)."""
    from backend.graphql.context import Context
    from backend.graphql.schema import build_schema

    context = Context(request=None, settings=settings, db=app_database, principal=None, client_address=None)
    schema = build_schema(production=False, max_depth=2)
    result = asyncio.run(schema.execute("{ clients { edges { node { id } } } }", context_value=context))
    assert result.errors and "exceeds maximum operation depth" in result.errors[0].message


@pytest.fixture
def production_graphql(app_database: Database, settings: Settings) -> Iterator[GraphQLClient]:
    from dataclasses import replace

    with TestClient(create_app(replace(settings, environment="production"), app_database)) as http:
        yield GraphQLClient(http)


def test_production_hides_introspection_and_internal_errors_but_keeps_typed_errors(
    production_graphql: GraphQLClient,
    database: Database,
    settings: Settings,
    make_clinic: Callable[..., Tenant],
) -> None:
    """No schema introspection, no GraphiQL, while access errors still say what to do."""
    staff = make_account(database, settings, make_clinic(), ["front_desk"])
    body = production_graphql.execute("{ __schema { types { name } } }", token=staff.token)
    assert body["errors"] and not body.get("data")
    assert production_graphql.http.get("/graphql", headers={"Accept": "text/html"}).status_code >= 400
    assert production_graphql.execute(LIST)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_sibling_root_fields_share_the_request_session_safely(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """`me` and `clients` resolved concurrently in one query both answer (no session contention)."""
    clinic = make_clinic()
    staff = make_account(database, settings, clinic, ["front_desk"])
    register(graphql, staff.token, "Maya", "Lopez")
    query = """{ me { clinic { slug } } clients(first: 5) { edges { node { firstName } } }
                 again: clients { nodes { id } } }"""
    data = graphql.data(query, token=staff.token)
    assert data["me"]["clinic"]["slug"] == clinic.slug
    assert [e["node"]["firstName"] for e in data["clients"]["edges"]] == ["Maya"]
    assert len(data["again"]["nodes"]) == 1
