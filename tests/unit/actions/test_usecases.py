"""The use cases of the actions service against the fake unit of work: what they record, what they
announce (only on commit), and what they refuse."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from qaf_shared.clock import FixedClock
from qaf_shared.contracts import ThemeUpdated
from qaf_shared.contracts.examples import EXAMPLES
from qaf_shared.envelope import new_envelope
from qaf_shared.errors import Conflict, Invalid, NotFound
from qaf_shared.unit_of_work import FakeUnitOfWork
from qaf_shared.vocabulary import MilestoneStatus, Theme
from qaf_actions import usecases
from tests.unit.actions.fakes import FakeRepository, context

COMMUNICATION = "responsiveness-to-families.communication-complaints"
COURT_PROJECT = ("timeliness-drift", "timeliness-drift.1")


def units() -> tuple[FakeUnitOfWork[Any], FakeRepository]:
    repository = FakeRepository()
    return FakeUnitOfWork(repository), repository


def complaints(count: int, occurred: datetime, period_end: str = "2013-09") -> Any:
    payload = ThemeUpdated(
        theme=Theme.RESPONSIVENESS_TO_FAMILIES, measure="complaint", category="communication", service="all",
        window_months=3, period_end=period_end, count=count, denominator=2500, denominator_kind="open-cases",
        rate=round(100 * count / 2500, 3),
    )
    return new_envelope(payload, source="reporting", occurred_at=occurred)


async def test_a_milestone_is_recorded_with_its_note_and_announced_without_it() -> None:
    uow, repository = units()
    envelope = await usecases.report_milestone(
        uow, context(), area_id=COURT_PROJECT[0], action_id=COURT_PROJECT[1], status=MilestoneStatus.DONE,
        updated_by="dmg", updated_on=date(2013, 10, 7), note="court project delivered",
    )
    assert [e.event_id for e in uow.committed_events] == [envelope.event_id]
    announced = uow.committed_events[0]
    assert announced.event_type == "action-milestone-updated"
    assert announced.payload.status is MilestoneStatus.DONE and announced.payload.updated_on == date(2013, 10, 7)
    assert b"court project delivered" not in announced.to_bytes()
    [recorded] = repository.milestones
    assert recorded["note"] == "court project delivered" and recorded["updated_by"] == "dmg"
    assert recorded["applied"] is False  # applied when the consumer sees it back on the topic


async def test_a_milestone_without_a_date_takes_the_clocks_today() -> None:
    uow, _ = units()
    envelope = await usecases.report_milestone(
        uow, context(clock=FixedClock(date(2013, 12, 2))), area_id=COURT_PROJECT[0], action_id=COURT_PROJECT[1],
        status=MilestoneStatus.IN_PROGRESS, updated_by="dmg", updated_on=None, note=None,
    )
    assert envelope.payload.updated_on == date(2013, 12, 2)


@pytest.mark.parametrize(("area_id", "action_id"), [("timeliness-drift", "nope"), ("nowhere", "nowhere.1")])
async def test_a_milestone_of_an_action_not_in_the_plan_is_refused(area_id: str, action_id: str) -> None:
    uow, repository = units()
    with pytest.raises(NotFound):
        await usecases.report_milestone(uow, context(), area_id=area_id, action_id=action_id,
                                        status=MilestoneStatus.DONE, updated_by="dmg", updated_on=date(2013, 10, 7),
                                        note=None)
    assert repository.milestones == [] and uow.committed_events == []


async def indicator_of(area_id: str) -> dict[str, Any]:
    uow, _ = units()
    _, plan = await usecases.plan_in_force(uow, context())
    area = plan.area(area_id)
    assert area is not None
    return area.indicators[0].model_dump(mode="json")


async def test_an_indicator_change_is_a_new_version_recorded_with_who_and_why() -> None:
    uow, repository = units()
    indicator = await indicator_of("fathers") | {"baseline": {"value": 40.0}, "tolerance": 3.0}
    version = await usecases.replace_indicator(
        uow, context(), "fathers", indicator["indicator_id"], indicator, changed_by="U-QA-1",
        summary="baseline from the first quarter's audits", base_version=1,
    )
    assert version == 2
    history = await usecases.plan_history(uow, context())
    assert [(v["version"], v["changed_by"]) for v in history] == [(1, "seed-file"), (2, "U-QA-1")]
    _, plan = await usecases.plan_in_force(uow, context())
    fathers = plan.area("fathers")
    assert fathers is not None and fathers.indicators[-1].baseline.value == 40.0
    assert plan.plan_version == 2


async def test_a_change_against_a_stale_version_is_refused_and_changes_nothing() -> None:
    uow, repository = units()
    indicator = await indicator_of("fathers")
    change = {"changed_by": "U-QA-1", "summary": "again", "base_version": 1}
    await usecases.replace_indicator(uow, context(), "fathers", indicator["indicator_id"], indicator, **change)
    with pytest.raises(Conflict, match="version 2"):
        await usecases.replace_indicator(uow, context(), "fathers", indicator["indicator_id"], indicator, **change)
    assert sorted(repository.plans) == [1, 2]


async def test_an_indicator_that_breaks_the_plans_rules_is_refused_by_field() -> None:
    uow, repository = units()
    indicator = await indicator_of("fathers") | {"direction": "sideways"}
    with pytest.raises(Invalid) as refused:
        await usecases.replace_indicator(uow, context(), "fathers", indicator["indicator_id"], indicator,
                                         changed_by="U-QA-1", summary="oops", base_version=None)
    assert [e.field for e in refused.value.errors] == ["indicator.direction"]
    assert 2 not in repository.plans


async def test_an_area_not_in_the_plan_cannot_be_changed() -> None:
    uow, _ = units()
    indicator = await indicator_of("fathers")
    with pytest.raises(NotFound, match="no area 'nowhere'"):
        await usecases.replace_indicator(uow, context(), "nowhere", indicator["indicator_id"], indicator,
                                         changed_by="U-QA-1", summary="x", base_version=None)


async def test_rising_complaints_flag_drift_once_and_falling_ones_clear_it() -> None:
    uow, repository = units()
    ctx = context()
    await usecases.apply_drift_events(uow, ctx, [complaints(30, datetime(2013, 10, 5, 9, tzinfo=UTC))])
    [flag] = [e for e in uow.committed_events if e.event_type == "drift-flagged"
              and e.payload.indicator_id == COMMUNICATION]
    assert flag.payload.as_of == date(2013, 10, 5) and flag.payload.figures["count"] == 30

    await usecases.apply_drift_events(uow, ctx, [complaints(31, datetime(2013, 10, 6, 9, tzinfo=UTC))])
    flags = [e for e in uow.committed_events if e.event_type == "drift-flagged" and e.payload.indicator_id == COMMUNICATION]
    assert len(flags) == 1  # still drifting: nothing new to say

    await usecases.apply_drift_events(uow, ctx, [complaints(9, datetime(2013, 11, 3, 9, tzinfo=UTC), "2013-10")])
    cleared = [e for e in uow.committed_events if e.event_type == "drift-cleared"
               and e.payload.indicator_id == COMMUNICATION]
    assert len(cleared) == 1 and cleared[0].payload.as_of == date(2013, 11, 3)
    assert repository.clock == (datetime(2013, 10, 5, 9, tzinfo=UTC), datetime(2013, 11, 3, 9, tzinfo=UTC))


async def test_a_milestone_seen_on_the_topic_for_an_unknown_action_is_refused() -> None:
    uow, _ = units()
    event = new_envelope(EXAMPLES["action-milestone-updated"].model_copy(update={"action_id": "nope"}),
                         source="actions", occurred_at=datetime(2013, 10, 7, tzinfo=UTC))
    with pytest.raises(usecases.UnknownAction):
        await usecases.apply_drift_events(uow, context(), [event])
    assert uow.commits == 0


async def test_a_work_ledger_event_is_recorded_and_advances_the_event_clock() -> None:
    uow, repository = units()
    at = datetime(2013, 10, 1, 8, tzinfo=UTC)
    await usecases.record_work(uow, new_envelope(EXAMPLES["audit-allocated"], source="allocation", occurred_at=at),
                               lambda repository: repository.audit_allocated)
    assert repository.ledger == [("audit-allocated", "A-2013-10-017")]
    assert repository.clock == (at, at)


async def test_the_status_needs_a_date_before_any_event_time() -> None:
    uow, _ = units()
    with pytest.raises(Conflict, match="no event time yet"):
        await usecases.drift_status(uow, context(), None)
    evaluation = await usecases.drift_status(uow, context(), date(2013, 10, 5))
    assert len(evaluation.areas) == 11 and evaluation.as_of == date(2013, 10, 5)


async def test_a_digest_is_issued_announced_and_sent_once_per_period_unless_forced() -> None:
    uow, repository = units()
    ctx = context(recipients=["qa-board@council.example"])
    first = await usecases.issue_digest(uow, ctx, as_of=date(2013, 11, 14))
    assert (first.digest_id, first.period, first.issued, first.sent) == ("digest-2013-11-1", "2013-11", True, True)
    [announced] = uow.committed_events
    assert announced.event_type == "board-digest-issued"
    assert announced.payload.board_date == date(2013, 11, 21)  # the third Thursday
    assert announced.payload.as_of == date(2013, 11, 14)

    again = await usecases.issue_digest(uow, ctx, as_of=date(2013, 11, 14))
    assert (again.digest_id, again.issued, again.sent) == ("digest-2013-11-1", False, True)
    forced = await usecases.issue_digest(uow, ctx, as_of=date(2013, 11, 14), force=True)
    assert forced.digest_id == "digest-2013-11-2" and forced.issued
    assert ctx.mailer.sent == ["digest-2013-11-1", "digest-2013-11-2"]  # type: ignore[attr-defined]
    assert [d["forced"] for d in repository.digests] == [False, True]


async def test_an_unknown_digest_is_not_found() -> None:
    uow, _ = units()
    with pytest.raises(NotFound, match="no digest 'digest-1999-01-1'"):
        await usecases.digest_document(uow, "digest-1999-01-1")


async def test_the_schedule_issues_each_digest_that_fell_due_since_the_first_event() -> None:
    uow, repository = units()
    ctx = context()
    await usecases.record_work(uow, new_envelope(EXAMPLES["audit-allocated"], source="allocation",
                                                 occurred_at=datetime(2013, 10, 1, 8, tzinfo=UTC)),
                               lambda repository: repository.audit_allocated)
    await usecases.record_work(uow, new_envelope(EXAMPLES["audit-allocated"], source="allocation",
                                                 occurred_at=datetime(2013, 12, 31, 8, tzinfo=UTC)),
                               lambda repository: repository.audit_allocated)
    issued = await usecases.run_schedule(uow, ctx)
    # the Boards of October, November and December 2013: digests due 5 working days before each
    assert [o.period for o in issued] == ["2013-10", "2013-11", "2013-12"]
    assert await usecases.run_schedule(uow, ctx) == []  # issued once
    assert repository.evaluated == date(2013, 12, 31)
