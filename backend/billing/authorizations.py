"""Authorizations per member (pure): is one usable for a session, alerts, and will it last.

An authorization belongs to one member, one payer and one service: group psychotherapy is
authorized separately from individual therapy, so a session is covered only by an authorization
for its own service. Programs lose money when an authorization lapses unnoticed, so expiry and
exhaustion are flagged before the session (domain guide, Billing):

| Alert        | When                                                       |
|--------------|------------------------------------------------------------|
| expired      | today is after the last authorized day                     |
| exhausted    | no sessions remain                                         |
| expiring     | the last authorized day is within 14 days                  |
| running_low  | 1 or 2 sessions remain                                     |

Decrementing exactly once per session is the store's job (a unique row per session and member);
`use_session` only says what the authorization looks like after one more session, or why not.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date

EXPIRING_WITHIN_DAYS = 14
RUNNING_LOW_AT = 2


class AuthorizedService(enum.StrEnum):
    GROUP_PSYCHOTHERAPY = "group_psychotherapy"  # 90853
    MULTI_FAMILY_GROUP = "multi_family_group"  # 90849
    INTENSIVE_OUTPATIENT = "intensive_outpatient"
    PARTIAL_HOSPITALIZATION = "partial_hospitalization"
    INDIVIDUAL_PSYCHOTHERAPY = "individual_psychotherapy"


@dataclass(frozen=True, kw_only=True)
class Authorization:
    """Sessions authorized for one member by one payer, from `starts_on` through `ends_on`."""

    sessions_authorized: int
    sessions_used: int = 0
    starts_on: date
    ends_on: date
    service: AuthorizedService = AuthorizedService.GROUP_PSYCHOTHERAPY
    key: str = ""  # the store's id, so an alert points at the row
    client_key: str = ""
    payer_id: str = ""

    @property
    def remaining(self) -> int:
        return max(0, self.sessions_authorized - self.sessions_used)


@dataclass(frozen=True)
class AuthorizationProblem:
    """Why an authorization does not cover a session (codes double as decision reasons)."""

    code: str  # no_active_authorization | authorization_expired | authorization_exhausted
    message: str


def check_authorization(
    auth: Authorization | None,
    service_date: date,
    service: AuthorizedService = AuthorizedService.GROUP_PSYCHOTHERAPY,
) -> AuthorizationProblem | None:
    """None when `auth` covers one more session of `service` on `service_date`."""
    if auth is None:
        return AuthorizationProblem("no_active_authorization", "no authorization on file")
    if auth.service != service:
        return AuthorizationProblem(
            "no_active_authorization", f"the authorization is for {auth.service}, not {service}"
        )
    if service_date < auth.starts_on:
        return AuthorizationProblem(
            "no_active_authorization", f"the authorization starts on {auth.starts_on.isoformat()}"
        )
    if service_date > auth.ends_on:
        return AuthorizationProblem(
            "authorization_expired", f"the authorization ended on {auth.ends_on.isoformat()}"
        )
    if auth.remaining <= 0:
        return AuthorizationProblem(
            "authorization_exhausted", f"all {auth.sessions_authorized} authorized sessions are used"
        )
    return None


def use_session(
    auth: Authorization,
    service_date: date,
    service: AuthorizedService = AuthorizedService.GROUP_PSYCHOTHERAPY,
) -> Authorization | AuthorizationProblem:
    """The authorization after one more session, or why it cannot take one."""
    problem = check_authorization(auth, service_date, service)
    if problem is not None:
        return problem
    return replace(auth, sessions_used=auth.sessions_used + 1)


class AlertKind(enum.StrEnum):
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"
    EXPIRING = "expiring"
    RUNNING_LOW = "running_low"


@dataclass(frozen=True)
class Alert:
    authorization_key: str
    client_key: str
    kind: AlertKind
    message: str  # no PHI: counts and dates only


def authorization_alerts(
    auths: Iterable[Authorization],
    today: date,
    *,
    expiring_within_days: int = EXPIRING_WITHIN_DAYS,
    running_low_at: int = RUNNING_LOW_AT,
) -> list[Alert]:
    """Alerts for each member's current authorizations, soonest end first.

    An expired authorization raises only `expired` (its count no longer matters); an exhausted one
    raises `exhausted` rather than `running_low`; `expiring` and `running_low` may come together.
    """
    alerts: list[Alert] = []
    for auth in sorted(auths, key=lambda a: (a.ends_on, a.key)):

        def alert(kind: AlertKind, message: str, auth: Authorization = auth) -> None:
            alerts.append(Alert(auth.key, auth.client_key, kind, message))

        if today > auth.ends_on:
            alert(AlertKind.EXPIRED, f"ended on {auth.ends_on.isoformat()}")
            continue
        if auth.remaining == 0:
            alert(AlertKind.EXHAUSTED, f"all {auth.sessions_authorized} authorized sessions are used")
        elif auth.remaining <= running_low_at:
            alert(AlertKind.RUNNING_LOW, f"{auth.remaining} of {auth.sessions_authorized} sessions remain")
        days_left = (auth.ends_on - today).days
        if days_left <= expiring_within_days:
            alert(AlertKind.EXPIRING, f"ends on {auth.ends_on.isoformat()}, in {days_left} days")
    return alerts


@dataclass(frozen=True)
class Forecast:
    """Whether an authorization covers every upcoming session of the series.

    `runs_out_on` is the first upcoming session it does not cover (None when it lasts);
    `reason` is "lasts", "exhausted" (sessions run out first), "expires" (the end date comes first)
    or "not_started" (a session before the first authorized day).
    """

    lasts: bool
    shortfall_sessions: int
    runs_out_on: date | None
    reason: str
    message: str


def forecast(
    remaining: int,
    upcoming_sessions: Sequence[date],
    ends_on: date,
    series_end: date | None = None,
    *,
    starts_on: date | None = None,
) -> Forecast:
    """Does the authorization last until the program's series ends?

    `upcoming_sessions` are the member's scheduled session dates from today; sessions after
    `series_end` are not the program's concern and are ignored.
    """
    sessions = sorted(d for d in upcoming_sessions if series_end is None or d <= series_end)
    left = remaining
    uncovered: list[date] = []
    for day in sessions:
        in_window = day <= ends_on and (starts_on is None or day >= starts_on)
        if in_window and left > 0:
            left -= 1
        else:
            uncovered.append(day)
    if not uncovered:
        return Forecast(True, 0, None, "lasts", f"covers all {len(sessions)} upcoming sessions")
    first = uncovered[0]
    if first > ends_on:
        reason, why = "expires", f"ends on {ends_on.isoformat()}"
    elif starts_on is not None and first < starts_on:
        reason, why = "not_started", f"starts on {starts_on.isoformat()}"
    else:
        reason, why = "exhausted", f"its {remaining} remaining sessions run out"
    return Forecast(
        False,
        len(uncovered),
        first,
        reason,
        f"{why}: {len(uncovered)} of {len(sessions)} upcoming sessions uncovered, from {first.isoformat()}",
    )


def forecast_authorization(
    auth: Authorization, upcoming_sessions: Sequence[date], series_end: date | None = None
) -> Forecast:
    return forecast(auth.remaining, upcoming_sessions, auth.ends_on, series_end, starts_on=auth.starts_on)
