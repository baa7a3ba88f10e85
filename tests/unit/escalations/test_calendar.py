"""Working-day arithmetic against England and Wales bank holidays."""

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from qaf_shared.calendar import WorkingCalendar

CAL = WorkingCalendar()


def test_christmas_boxing_day_and_the_weekend_are_skipped() -> None:
    # Friday 20 Dec 2013: Mon 23, Tue 24, (Christmas, Boxing Day), Fri 27, Mon 30, Tue 31
    assert CAL.add_working_days(date(2013, 12, 20), 5) == date(2013, 12, 31)


def test_new_years_day_is_skipped() -> None:
    assert CAL.add_working_days(date(2013, 12, 31), 1) == date(2014, 1, 2)


def test_the_second_of_january_is_a_working_day_in_england_though_not_in_scotland() -> None:
    assert CAL.is_working_day(date(2014, 1, 2))


def test_good_friday_and_easter_monday_are_skipped_in_2013_and_2014() -> None:
    assert CAL.add_working_days(date(2013, 3, 28), 1) == date(2013, 4, 2)
    assert CAL.add_working_days(date(2014, 4, 17), 1) == date(2014, 4, 22)
    assert CAL.bank_holiday(date(2014, 4, 18)) == "Good Friday"


def test_may_and_august_bank_holidays_are_skipped() -> None:
    assert not CAL.is_working_day(date(2013, 5, 6))
    assert not CAL.is_working_day(date(2013, 5, 27))
    assert not CAL.is_working_day(date(2013, 8, 26))
    assert CAL.add_working_days(date(2013, 8, 23), 1) == date(2013, 8, 27)


def test_substitute_days_when_christmas_falls_on_a_weekend() -> None:
    # Christmas 2021 fell on a Saturday: the bank holidays were Monday 27 and Tuesday 28
    assert CAL.add_working_days(date(2021, 12, 24), 1) == date(2021, 12, 29)


def test_a_timescale_from_a_weekend_starts_counting_on_monday() -> None:
    assert CAL.add_working_days(date(2013, 10, 5), 1) == date(2013, 10, 7)
    assert CAL.add_working_days(date(2013, 10, 5), 10) == date(2013, 10, 18)


def test_the_contract_examples_timescales() -> None:
    assert CAL.add_working_days(date(2013, 10, 3), 5) == date(2013, 10, 10)
    assert CAL.add_working_days(date(2013, 10, 2), 10) == date(2013, 10, 16)


def test_working_days_between_counts_after_start_up_to_end() -> None:
    assert CAL.working_days_between(date(2013, 12, 20), date(2013, 12, 31)) == 5
    assert CAL.working_days_between(date(2013, 12, 31), date(2013, 12, 20)) == 0


def test_extra_closures_are_not_working_days() -> None:
    cal = WorkingCalendar(extra_closures=[date(2013, 10, 7)])
    assert cal.add_working_days(date(2013, 10, 4), 1) == date(2013, 10, 8)


@given(st.dates(date(2012, 1, 1), date(2016, 12, 31)), st.integers(1, 80))
def test_adding_then_counting_working_days_round_trips(start: date, days: int) -> None:
    due = CAL.add_working_days(start, days)
    assert CAL.is_working_day(due)
    assert CAL.working_days_between(start, due) == days
    assert CAL.working_days_between(start, due - timedelta(days=1)) == days - 1
