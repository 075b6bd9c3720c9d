"""A payer's prior authorization for a member, and the coverage's yearly visit cap: pure rules.

Authorizations are flagged before the session, not after (a session past the last authorized one,
or after the end date, is not paid):

| flag            | when                                                                 |
|-----------------|----------------------------------------------------------------------|
| expiring soon   | it ends within EXPIRY_NOTICE_DAYS of the session, or LOW_REMAINING or |
|                 | fewer sessions remain                                                |
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from backend.clients.rules import COVERAGE_ENDED
from backend.errors import FieldProblem

EXPIRY_NOTICE_DAYS = 14
LOW_REMAINING = 2
MAX_SESSIONS = 1000
MAX_REFERENCE = 50
# A cap above a visit a day is a typing error, not a plan.
MAX_VISIT_CAP = 366


@dataclass(frozen=True)
class AuthorizationDraft:
    client_id: uuid.UUID
    coverage_id: uuid.UUID
    reference: str
    sessions_authorized: int
    starts_on: date
    ends_on: date


def authorization_problems(
    draft: AuthorizationDraft, coverage_owner: uuid.UUID | None, coverage_ended: bool = False
) -> list[FieldProblem]:
    """Why the authorization cannot be stored; `coverage_owner` owns the coverage (None: no such coverage),
    which may have ended (replaced by another payer's)."""
    problems: list[FieldProblem] = []
    if coverage_owner is None:
        problems.append(FieldProblem("coverageId", "not_found", "does not name a coverage in this clinic"))
    elif coverage_owner != draft.client_id:
        problems.append(FieldProblem("coverageId", "other_client", "is not a coverage of this client"))
    elif coverage_ended:
        problems.append(COVERAGE_ENDED)
    reference = draft.reference.strip()
    if not reference:
        problems.append(FieldProblem("reference", "required", "must not be empty"))
    elif len(reference) > MAX_REFERENCE:
        problems.append(FieldProblem("reference", "too_long", f"must be at most {MAX_REFERENCE} characters"))
    if draft.sessions_authorized <= 0:
        problems.append(FieldProblem("sessionsAuthorized", "not_positive", "must be at least 1"))
    elif draft.sessions_authorized > MAX_SESSIONS:
        problems.append(FieldProblem("sessionsAuthorized", "too_large", f"must be at most {MAX_SESSIONS}"))
    if draft.ends_on < draft.starts_on:
        problems.append(FieldProblem("endsOn", "before_start", "must not be before startsOn"))
    return problems


def visit_cap_problems(visit_cap: int | None) -> list[FieldProblem]:
    """A cap is a positive number of visits a year; None means the plan has no cap."""
    if visit_cap is None or 1 <= visit_cap <= MAX_VISIT_CAP:
        return []
    return [FieldProblem("visitCap", "out_of_range", f"must be between 1 and {MAX_VISIT_CAP}, or null")]


def remaining(sessions_authorized: int, sessions_used: int) -> int:
    """Sessions still authorized (never below zero: an overrun is billing's problem to report)."""
    return max(sessions_authorized - sessions_used, 0)


def expiring_soon(sessions_left: int, ends_on: date, on: date) -> bool:
    """Flag before the session: the authorization ends within the notice period or nearly runs out."""
    return (ends_on - on).days <= EXPIRY_NOTICE_DAYS or sessions_left <= LOW_REMAINING


def calendar_year(on: date) -> tuple[date, date]:
    """The visit cap's year: caps are counted per calendar year."""
    return date(on.year, 1, 1), date(on.year, 12, 31)
