"""Audit capture is part of the read or write: no audit event, no data."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from sqlalchemy import text

from backend.database import Database
from backend.settings import Settings
from backend.tenants.models import Tenant
from tests.graphql.test_clinic_isolation import LIST, REGISTER, register
from tests.graphql.test_conventions import client_count
from tests.support import GraphQLClient, make_account


def break_audit_log(database: Database, clinic: Tenant) -> None:
    """Make every audit insert in this clinic fail, as a full disk or a bug would."""
    with database.engine.begin() as conn:
        table = f'"{clinic.schema_name}".audit_events'
        conn.execute(text(f"ALTER TABLE {table} ADD CONSTRAINT broken CHECK (false) NOT VALID"))


def test_a_read_whose_audit_event_cannot_be_stored_returns_no_data(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """The client list is withheld when its audit events fail to commit."""
    clinic = make_clinic()
    staff = make_account(database, settings, clinic, ["front_desk"])
    register(graphql, staff.token, "Noor")
    break_audit_log(database, clinic)
    body = graphql.execute(LIST, token=staff.token)
    assert body["data"] is None and body["errors"]


def test_a_write_whose_audit_event_cannot_be_stored_is_not_stored_and_leaks_nothing(
    graphql: GraphQLClient,
    database: Database,
    settings: Settings,
    make_clinic: Callable[..., Tenant],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Registration fails as a whole; neither the response nor the logs quote the client's name."""
    clinic = make_clinic()
    staff = make_account(database, settings, clinic, ["front_desk"])
    break_audit_log(database, clinic)
    caplog.set_level(logging.DEBUG)
    variables = {"input": {"firstName": "Zephyrine", "lastName": "Quill", "dateOfBirth": "1990-01-01"}}
    body = graphql.execute(REGISTER, variables, staff.token)
    assert body["errors"] and not (body.get("data") or {}).get("registerClient")
    assert "Zephyrine" not in str(body) and "Zephyrine" not in caplog.text
    assert client_count(database, clinic) == 0
