"""Authorizations: using a session, alerts before they lapse, and whether one lasts the series."""

from __future__ import annotations

from datetime import date, timedelta

from backend.billing.authorizations import (
    AlertKind,
    Authorization,
    AuthorizationProblem,
    AuthorizedService,
    authorization_alerts,
    check_authorization,
    forecast,
    forecast_authorization,
    use_session,
)

TODAY = date(2024, 3, 1)


def auth(
    key: str = "a1", *, authorized: int = 12, used: int = 0, ends_on: date = date(2024, 6, 30)
) -> Authorization:
    return Authorization(
        key=key,
        client_key=f"c-{key}",
        payer_id="P",
        sessions_authorized=authorized,
        sessions_used=used,
        starts_on=date(2024, 1, 1),
        ends_on=ends_on,
    )


def weekly(first: date, count: int) -> list[date]:
    return [first + timedelta(weeks=i) for i in range(count)]


def test_using_a_session_leaves_one_fewer_remaining() -> None:
    """12 authorized, 3 used: after one more session 8 remain, and the original is unchanged."""
    before = auth(used=3)
    after = use_session(before, TODAY)
    assert isinstance(after, Authorization)
    assert (after.sessions_used, after.remaining) == (4, 8)
    assert before.remaining == 9


def test_the_last_authorized_session_can_be_used_then_no_more() -> None:
    """The twelfth of 12 sessions is covered; a thirteenth is refused as exhausted."""
    last = use_session(auth(used=11), TODAY)
    assert isinstance(last, Authorization) and last.remaining == 0
    refused = use_session(last, TODAY)
    assert refused == AuthorizationProblem("authorization_exhausted", "all 12 authorized sessions are used")


def test_an_authorization_covers_its_last_day_but_not_the_day_after() -> None:
    """End dates are inclusive: 30 June is covered, 1 July is authorization_expired."""
    a = auth()
    assert check_authorization(a, date(2024, 6, 30)) is None
    problem = check_authorization(a, date(2024, 7, 1))
    assert problem is not None and problem.code == "authorization_expired"


def test_a_session_before_the_start_or_for_another_service_is_not_covered() -> None:
    """Before 1 January, or a group session against an individual-therapy authorization: not covered."""
    early = check_authorization(auth(), date(2023, 12, 31))
    assert early is not None and early.code == "no_active_authorization"
    individual = Authorization(
        sessions_authorized=5,
        starts_on=date(2024, 1, 1),
        ends_on=date(2024, 12, 31),
        service=AuthorizedService.INDIVIDUAL_PSYCHOTHERAPY,
    )
    wrong = use_session(individual, TODAY, AuthorizedService.GROUP_PSYCHOTHERAPY)
    assert isinstance(wrong, AuthorizationProblem) and wrong.code == "no_active_authorization"
    missing = check_authorization(None, TODAY)
    assert missing is not None and missing.code == "no_active_authorization"


def test_alerts_flag_expiry_within_fourteen_days_but_not_fifteen() -> None:
    """Ending in 14 days raises expiring; ending in 15 days does not."""
    alerts = authorization_alerts(
        [auth("soon", ends_on=TODAY + timedelta(days=14)), auth("later", ends_on=TODAY + timedelta(days=15))],
        TODAY,
    )
    assert [(a.authorization_key, a.kind) for a in alerts] == [("soon", AlertKind.EXPIRING)]
    assert alerts[0].client_key == "c-soon"
    assert "2024-03-15" in alerts[0].message


def test_alerts_flag_two_remaining_but_not_three() -> None:
    """Two sessions left is running low; three is not."""
    alerts = authorization_alerts([auth("two", used=10), auth("three", used=9)], TODAY)
    assert [(a.authorization_key, a.kind) for a in alerts] == [("two", AlertKind.RUNNING_LOW)]


def test_an_exhausted_authorization_is_exhausted_not_running_low() -> None:
    """No sessions left raises exhausted alone."""
    alerts = authorization_alerts([auth("done", used=12)], TODAY)
    assert [a.kind for a in alerts] == [AlertKind.EXHAUSTED]


def test_an_expired_authorization_raises_only_expired() -> None:
    """Past its end date, its count no longer matters: one expired alert."""
    alerts = authorization_alerts([auth("old", used=11, ends_on=TODAY - timedelta(days=1))], TODAY)
    assert [a.kind for a in alerts] == [AlertKind.EXPIRED]


def test_alerts_come_soonest_end_first_and_can_combine() -> None:
    """One authorization both low and expiring raises both; alerts are ordered by end date."""
    alerts = authorization_alerts(
        [auth("b", ends_on=date(2024, 3, 10)), auth("a", used=11, ends_on=date(2024, 3, 5)), auth("ok")],
        TODAY,
    )
    assert [(a.authorization_key, a.kind) for a in alerts] == [
        ("a", AlertKind.RUNNING_LOW),
        ("a", AlertKind.EXPIRING),
        ("b", AlertKind.EXPIRING),
    ]


def test_forecast_lasts_when_sessions_and_dates_cover_the_series() -> None:
    """Eight weekly sessions left, eight remaining, ending after the series: it lasts."""
    f = forecast(8, weekly(date(2024, 3, 4), 8), date(2024, 6, 30), date(2024, 4, 22))
    assert (f.lasts, f.shortfall_sessions, f.runs_out_on, f.reason) == (True, 0, None, "lasts")


def test_forecast_counts_the_sessions_short_when_the_count_runs_out() -> None:
    """Eight sessions to go but 6 remaining: 2 short, running out at the seventh session."""
    sessions = weekly(date(2024, 3, 4), 8)
    f = forecast(6, sessions, date(2024, 6, 30), sessions[-1])
    assert (f.lasts, f.shortfall_sessions, f.runs_out_on, f.reason) == (False, 2, sessions[6], "exhausted")


def test_forecast_flags_an_end_date_before_the_series_ends() -> None:
    """Plenty of sessions but the authorization ends 31 March: the April sessions are uncovered."""
    sessions = weekly(date(2024, 3, 4), 8)  # 4 Mar .. 22 Apr
    f = forecast(20, sessions, date(2024, 3, 31), date(2024, 4, 30))
    assert (f.lasts, f.shortfall_sessions, f.runs_out_on, f.reason) == (False, 4, date(2024, 4, 1), "expires")
    assert "2024-03-31" in f.message


def test_forecast_ignores_sessions_after_the_series_ends() -> None:
    """Sessions scheduled past the series end do not make a shortfall."""
    sessions = weekly(date(2024, 3, 4), 10)
    f = forecast(8, sessions, date(2024, 12, 31), sessions[7])
    assert f.lasts is True


def test_forecast_of_a_stored_authorization_uses_its_remaining_count() -> None:
    """An authorization with 2 of 12 left and 3 sessions to go runs out at the third."""
    sessions = weekly(date(2024, 3, 4), 3)
    f = forecast_authorization(auth(used=10), sessions, sessions[-1])
    assert (f.lasts, f.shortfall_sessions, f.runs_out_on) == (False, 1, sessions[2])
