"""The follow-up cycle rules, rule by rule (SPEC §5)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.followups.cycles import Bucket, CycleSettings, Kind, Outcome, after_outcome, bucket, days_late, first_task

NOW = datetime(2026, 11, 23, 2, 0)  # 10:00 in Shanghai
S = CycleSettings()
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_prospect_gets_a_first_contact_within_seven_days():
    plan = first_task(NOW, last_paid_at=None, lost=False, s=S)
    assert (plan.cycle, plan.kind, plan.due_at) == (1, Kind.FIRST_CONTACT, NOW + timedelta(days=7))


def test_a_buyer_is_revisited_thirty_days_after_the_last_order():
    last = NOW - timedelta(days=10)
    plan = first_task(NOW, last_paid_at=last, lost=False, s=S)
    assert (plan.kind, plan.due_at) == (Kind.REVISIT, last + timedelta(days=30))


def test_a_buyer_whose_revisit_date_has_passed_is_due_within_seven_days():
    plan = first_task(NOW, last_paid_at=NOW - timedelta(days=45), lost=False, s=S)
    assert (plan.kind, plan.due_at) == (Kind.REVISIT, NOW + timedelta(days=7))


def test_a_lost_buyer_brought_back_gets_a_win_back_task():
    plan = first_task(NOW, last_paid_at=NOW - timedelta(days=400), lost=True, s=S)
    assert (plan.kind, plan.due_at) == (Kind.WIN_BACK, NOW + timedelta(days=7))


def test_ordered_starts_the_next_cycle_in_thirty_days_and_resets_the_streak():
    decision = after_outcome(Outcome.ORDERED, cycle=3, unconverted_streak=2, now=NOW, s=S)
    assert decision.next_task.cycle == 4
    assert decision.next_task.kind == Kind.REVISIT
    assert decision.next_task.due_at == NOW + timedelta(days=30)
    assert decision.unconverted_streak == 0
    assert not decision.lost


@pytest.mark.parametrize("outcome", [Outcome.INTERESTED, Outcome.NO_ANSWER, Outcome.NOT_INTERESTED])
def test_not_converted_starts_the_next_cycle_in_fifteen_days(outcome):
    decision = after_outcome(outcome, cycle=1, unconverted_streak=0, now=NOW, s=S)
    assert (decision.next_task.cycle, decision.next_task.due_at) == (2, NOW + timedelta(days=15))
    assert decision.unconverted_streak == 1


def test_do_not_contact_ends_the_cycles_and_offers_the_blacklist():
    decision = after_outcome(Outcome.DO_NOT_CONTACT, cycle=2, unconverted_streak=1, now=NOW, s=S)
    assert decision.next_task is None
    assert decision.offer_blacklist
    assert not decision.lost


def test_the_fifth_unconverted_cycle_in_a_row_marks_the_customer_lost():
    streak, cycle = 0, 1
    for _ in range(4):
        decision = after_outcome(Outcome.NO_ANSWER, cycle, streak, NOW, S)
        assert decision.next_task is not None and not decision.lost
        streak, cycle = decision.unconverted_streak, decision.next_task.cycle
    final = after_outcome(Outcome.NO_ANSWER, cycle, streak, NOW, S)
    assert final.lost and final.next_task is None and final.unconverted_streak == 5


def test_an_order_in_between_restarts_the_count_of_unconverted_cycles():
    decision = after_outcome(Outcome.ORDERED, cycle=5, unconverted_streak=4, now=NOW, s=S)
    decision = after_outcome(Outcome.NO_ANSWER, cycle=6, unconverted_streak=decision.unconverted_streak, now=NOW, s=S)
    assert not decision.lost and decision.unconverted_streak == 1


def test_durations_come_from_the_settings():
    s = CycleSettings(first_contact_days=3, revisit_days=60, retry_days=10, max_unconverted=2)
    assert first_task(NOW, None, False, s).due_at == NOW + timedelta(days=3)
    assert after_outcome(Outcome.ORDERED, 1, 0, NOW, s).next_task.due_at == NOW + timedelta(days=60)
    assert after_outcome(Outcome.NO_ANSWER, 1, 0, NOW, s).next_task.due_at == NOW + timedelta(days=10)
    assert after_outcome(Outcome.NO_ANSWER, 2, 1, NOW, s).lost
    assert (
        CycleSettings.from_config(
            {
                "FOLLOWUP_FIRST_CONTACT_DAYS": 3,
                "FOLLOWUP_REVISIT_DAYS": 60,
                "FOLLOWUP_RETRY_DAYS": 10,
                "FOLLOWUP_MAX_UNCONVERTED": 2,
            }
        )
        == s
    )


def test_a_task_due_at_2330_shanghai_time_is_due_today_there():
    # 23:30 in Shanghai is 15:30 UTC: at 08:00 Shanghai (00:00 UTC) it is today's task.
    due = datetime(2026, 11, 23, 15, 30)
    assert bucket(due, now=datetime(2026, 11, 23, 0, 0), zone=SHANGHAI) == Bucket.TODAY
    # At 00:10 Shanghai on the 24th (16:10 UTC on the 23rd, still "the 23rd" in UTC) it is overdue.
    assert bucket(due, now=datetime(2026, 11, 23, 16, 10), zone=SHANGHAI) == Bucket.OVERDUE


def test_a_task_due_at_0030_shanghai_time_belongs_to_that_shanghai_day():
    due = datetime(2026, 11, 23, 16, 30)  # 00:30 on the 24th in Shanghai, the 23rd in UTC
    assert bucket(due, now=datetime(2026, 11, 23, 10, 0), zone=SHANGHAI) == Bucket.THIS_WEEK
    assert bucket(due, now=datetime(2026, 11, 23, 17, 0), zone=SHANGHAI) == Bucket.TODAY


def test_buckets_for_this_week_and_later():
    assert bucket(NOW + timedelta(days=6), NOW, SHANGHAI) == Bucket.THIS_WEEK
    assert bucket(NOW + timedelta(days=7), NOW, SHANGHAI) == Bucket.LATER
    assert bucket(NOW - timedelta(days=1), NOW, SHANGHAI) == Bucket.OVERDUE


def test_days_late_counts_shop_calendar_days():
    due = datetime(2026, 11, 23, 15, 30)  # 23:30 on the 23rd in Shanghai
    assert days_late(due, datetime(2026, 11, 23, 15, 50), SHANGHAI) == 0  # 23:50 the same evening
    assert days_late(due, datetime(2026, 11, 23, 16, 10), SHANGHAI) == 1  # 00:10 the next day
    assert days_late(due, datetime(2026, 11, 20, 1, 0), SHANGHAI) == 0  # early is on time


def test_a_customer_assigned_again_goes_on_from_the_cycle_reached():
    # Unassigned after three cycles, then given to someone else: cycle 4, a revisit, not a first contact.
    plan = first_task(NOW, last_paid_at=None, lost=False, s=S, last_cycle=3)
    assert (plan.cycle, plan.kind, plan.due_at) == (4, Kind.REVISIT, NOW + timedelta(days=7))


def test_a_lost_prospect_brought_back_gets_a_win_back_task_within_seven_days():
    plan = first_task(NOW, last_paid_at=None, lost=True, s=S, last_cycle=5)
    assert (plan.cycle, plan.kind, plan.due_at) == (6, Kind.WIN_BACK, NOW + timedelta(days=7))
