"""Setting up staff, rooms and programs through GraphQL for scheduling tests."""

from __future__ import annotations

from typing import Any

from tests.support import GraphQLClient

CREATE_STAFF = """
mutation($input: CreateStaffMemberInput!) {
  createStaffMember(input: $input) {
    __typename ... on StaffMember { id } ... on UserError { field code }
  }
}"""
SET_CREDENTIAL = """
mutation($input: StaffCredentialInput!) {
  setStaffCredential(input: $input) { __typename ... on UserError { field code } }
}"""
CREATE_ROOM = """
mutation($input: CreateRoomInput!) { createRoom(input: $input) { __typename ... on Room { id } } }"""
CREATE_PROGRAM = """
mutation($input: CreateProgramInput!) {
  createProgram(input: $input) {
    __typename
    ... on CreateProgramSuccess { program { id name } sessionsCreated }
    ... on UserError { field code message }
    ... on InvalidInput { errors { field code } }
    ... on DoubleBooked { resourceKind resourceId }
    ... on LoadCapExceeded { period cap }
  }
}"""


def staff(
    gql: GraphQLClient, token: str, name: str, credentials: tuple[str, ...] = ("DBT",), **extra: Any
) -> str:
    result = gql.data(CREATE_STAFF, {"input": {"displayName": name, **extra}}, token)["createStaffMember"]
    assert result["__typename"] == "StaffMember", result
    for credential in credentials:
        body = gql.data(SET_CREDENTIAL, {"input": {"staffId": result["id"], "credential": credential}}, token)
        assert body["setStaffCredential"]["__typename"] == "StaffMember"
    return str(result["id"])


def room(gql: GraphQLClient, token: str, name: str) -> str:
    return str(gql.data(CREATE_ROOM, {"input": {"name": name}}, token)["createRoom"]["id"])


def program_input(lead: str, room_id: str | None, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "DBT Skills",
        "modality": "DBT_SKILLS",
        "kind": "OPEN",
        "levelOfCare": "OUTPATIENT",
        "capacity": 10,
        "therapeuticMinimum": 4,
        "defaultCpt": "90853",
        "sessionMinutes": 90,
        "startsOn": "2030-01-01",
        "endsOn": "2030-03-31",
        "rrule": "FREQ=WEEKLY;BYDAY=TU",
        "firstStart": "2030-01-01T18:00:00",
        "timezone": "America/New_York",
        "leadFacilitatorId": lead,
        "roomId": room_id,
        "requiredCredentials": ["DBT"],
    }
    base.update(overrides)
    return base


def create_program(gql: GraphQLClient, token: str, **kwargs: Any) -> dict[str, Any]:
    result: dict[str, Any] = gql.data(CREATE_PROGRAM, {"input": program_input(**kwargs)}, token)[
        "createProgram"
    ]
    return result
