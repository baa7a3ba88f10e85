"""The calendar, months, clocks, refusals and the fake unit of work every service builds on."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
import pytest
from fastapi import APIRouter

from qaf_shared.calendar import ENGLAND_AND_WALES, WorkingCalendar, local_date
from qaf_shared.clock import EventClock, FixedClock, WallClock
from qaf_shared.contracts.examples import EXAMPLES
from qaf_shared.envelope import new_envelope
from qaf_shared.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from qaf_shared.http.app import create_http_app
from qaf_shared.months import Month, add_months
from qaf_shared.unit_of_work import FakeUnitOfWork


def test_bank_holidays_of_england_and_wales_are_not_working_days() -> None:
    cal = ENGLAND_AND_WALES
    # 2013: Good Friday 29 March, Easter Monday 1 April, early May 6 May, Christmas 25-26 December
    for day in (date(2013, 3, 29), date(2013, 4, 1), date(2013, 5, 6), date(2013, 12, 25), date(2013, 12, 26)):
        assert not cal.is_working_day(day), day
        assert cal.bank_holiday(day)
    assert not cal.is_working_day(date(2013, 10, 5)), "a Saturday"
    assert cal.is_working_day(date(2013, 10, 4))
    # 2010: Christmas on a Saturday, so the Monday and Tuesday after are substitute days
    assert not cal.is_working_day(date(2010, 12, 27)) and not cal.is_working_day(date(2010, 12, 28))


def test_working_day_arithmetic() -> None:
    cal = ENGLAND_AND_WALES
    assert cal.add_working_days(date(2013, 10, 4), 10) == date(2013, 10, 18)  # the convention's example
    assert cal.add_working_days(date(2013, 12, 20), 3) == date(2013, 12, 27)  # over Christmas
    assert cal.add_working_days(date(2013, 10, 4), 0) == date(2013, 10, 4)
    with pytest.raises(ValueError):
        cal.add_working_days(date(2013, 10, 4), -1)
    assert cal.working_days_before(date(2013, 12, 27), 3) == date(2013, 12, 20)
    assert cal.working_days_between(date(2013, 10, 4), date(2013, 10, 18)) == 10
    assert cal.working_days_between(date(2013, 10, 18), date(2013, 10, 4)) == 0
    assert cal.on_or_after(date(2013, 12, 25)) == date(2013, 12, 27)
    closed = WorkingCalendar(extra_closures=[date(2013, 10, 7)])
    assert not closed.is_working_day(date(2013, 10, 7)) and ENGLAND_AND_WALES.is_working_day(date(2013, 10, 7))


def test_the_date_in_england() -> None:
    assert local_date(datetime(2013, 7, 1, 23, 30, tzinfo=UTC)) == date(2013, 7, 2), "summer time"
    assert local_date(datetime(2013, 12, 1, 23, 30, tzinfo=UTC)) == date(2013, 12, 1), "winter: London is UTC"
    with pytest.raises(ValueError):
        local_date(datetime(2013, 7, 1, 12))


def test_months() -> None:
    october = Month.parse("2013-10")
    assert (october.year, october.number, october.label, str(october)) == (2013, 10, "2013-10", "2013-10")
    assert october.shift(3) == Month.parse("2014-01") and october.shift(-10) == Month.parse("2012-12")
    assert october.first_day() == date(2013, 10, 1) and Month.parse("2012-02").last_day() == date(2012, 2, 29)
    assert Month.of(date(2013, 10, 31)) == october
    assert [m.label for m in october.through(october.shift(2))] == ["2013-10", "2013-11", "2013-12"]
    assert add_months(date(2013, 1, 31), 1) == date(2013, 2, 28)
    for bad in ("2013-13", "13-10", "2013-1", ""):
        with pytest.raises(ValueError, match="YYYY-MM"):
            Month.parse(bad)


async def test_clocks() -> None:
    assert await FixedClock(date(2013, 10, 4)).today() == date(2013, 10, 4)
    fixed = FixedClock(None)
    assert await fixed.today() is None
    fixed.set(datetime(2013, 7, 1, 23, 30, tzinfo=UTC))
    assert await fixed.today() == date(2013, 7, 2)
    high_water: list[datetime | None] = [None]

    async def read() -> datetime | None:
        return high_water[0]

    clock = EventClock(read)
    assert await clock.today() is None, "no event yet, no notion of time"
    high_water[0] = datetime(2013, 11, 14, 9, tzinfo=UTC)
    assert await clock.today() == date(2013, 11, 14)
    assert (await WallClock().now()).tzinfo is not None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("refusal", "status", "detail"),
    [
        (NotFound("no audit 'A-1'"), 404, "no audit 'A-1'"),
        (Forbidden("audit A-1 is allocated to another auditor"), 403, "audit A-1 is allocated to another auditor"),
        (Conflict("the audit is already completed"), 409, "the audit is already completed"),
        (Invalid("must not be in the future", field="received_on"), 422,
         [{"loc": ["body", "received_on"], "field": "received_on", "msg": "must not be in the future",
           "type": "value_error"}]),
        (Invalid([FieldError("domains[2].grade", "unknown grade"), FieldError("summary", "too long")]), 422,
         [{"loc": ["body", "domains", 2, "grade"], "field": "domains[2].grade", "msg": "unknown grade",
           "type": "value_error"},
          {"loc": ["body", "summary"], "field": "summary", "msg": "too long", "type": "value_error"}]),
    ],
)
async def test_a_refusal_reads_over_http_with_its_status_and_what_is_wrong(refusal, status, detail) -> None:  # type: ignore[no-untyped-def]
    router = APIRouter()

    @router.get("/thing")
    async def thing() -> None:
        raise refusal

    app = create_http_app(title="t", description="t", routers=[router], lifespan=None, readiness=dict)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/thing")
    assert response.status_code == status
    assert response.json() == {"detail": detail}


async def test_the_fake_unit_of_work_publishes_only_what_was_committed() -> None:
    repository: dict[str, int] = {}
    uow = FakeUnitOfWork(repository)
    event = new_envelope(EXAMPLES["case-opened"], source="test")
    async with uow:
        uow.repository["C-1"] = 1
        uow.emit(event)
    assert uow.committed_events == [] and uow.commits == 0, "left without commit: nothing published"
    async with uow:
        uow.emit(event)
        await uow.commit()
    assert uow.committed_events == [event] and uow.commits == 1
    with pytest.raises(RuntimeError):
        async with uow:
            uow.emit(event)
            raise RuntimeError("the use case failed")
    assert uow.committed_events == [event]
