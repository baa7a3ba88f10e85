"""The digest falls due N working days before the Board, skipping weekends and bank holidays."""

from datetime import date

from qaf_shared.calendar import ENGLAND_AND_WALES
from qaf_actions.domain.schedule import BoardSchedule


def test_bank_holidays_of_england_and_wales_are_not_working_days() -> None:
    assert not ENGLAND_AND_WALES.is_working_day(date(2013, 12, 25))
    assert not ENGLAND_AND_WALES.is_working_day(date(2013, 8, 26))  # late summer bank holiday
    assert not ENGLAND_AND_WALES.is_working_day(date(2013, 11, 16))  # a Saturday
    assert ENGLAND_AND_WALES.is_working_day(date(2013, 11, 14))


def test_working_days_before_skips_christmas() -> None:
    # Thursday 2 January 2014: back over New Year's Day (31st, 30th), the weekend, the 27th, then over
    # Boxing Day and Christmas Day to Christmas Eve
    assert ENGLAND_AND_WALES.working_days_before(date(2014, 1, 2), 3) == date(2013, 12, 27)
    assert ENGLAND_AND_WALES.working_days_before(date(2014, 1, 2), 4) == date(2013, 12, 24)


def test_the_board_meets_on_the_third_thursday_and_the_digest_is_due_five_working_days_before() -> None:
    schedule = BoardSchedule(weekday=3, week=3, working_days_before=5)
    assert schedule.board_date(2013, 11) == date(2013, 11, 21)
    assert schedule.issue_date(2013, 11) == date(2013, 11, 14)
    assert schedule.period_for(date(2013, 11, 21)) == "2013-11"
    assert schedule.period_for(date(2013, 11, 22)) == "2013-12"


def test_explicit_board_dates_win_and_due_periods_are_listed_once() -> None:
    schedule = BoardSchedule(explicit=(date(2013, 12, 10),))
    assert schedule.board_date(2013, 12) == date(2013, 12, 10)
    due = list(schedule.due_periods(date(2013, 10, 1), date(2013, 12, 31)))
    assert [p for p, _, _ in due] == ["2013-10", "2013-11", "2013-12"]
    assert due[-1][1] == date(2013, 12, 3)
