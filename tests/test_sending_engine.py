"""The engine's rules, each on the real database and Redis: planned once, claimed once, checked
again before the provider, never resent, nothing lost when Redis or a worker goes away."""

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.blacklist import services as blacklist
from app.extensions import db
from app.models import (
    BlacklistReason,
    Campaign,
    CampaignStatus,
    Message,
    MessageKind,
    MessageStatus,
    SendingSettings,
    SkipReason,
    SmsTemplate,
)
from app.redis import get_queue, get_redis
from app.sending import engine, limiter
from app.sending.jobs import send_batch as send_batch_job
from app.sending.providers import provider

# Wednesday 25 November 2026, 10:00 in Shanghai: inside the default 09:30–12:00 window.
NOW = datetime(2026, 11, 25, 2, 0)


@pytest.fixture
def all_day(app):
    """Windows open all day, every day: for jobs that run on the real clock."""
    db.session.add(SendingSettings(id=1, windows={str(d): [["00:00", "24:00"]] for d in range(7)}))
    db.session.commit()


def draft(customer, kind=MessageKind.SERVICE, key=None, **values) -> engine.Draft:
    return engine.Draft(
        dedupe_key=key or f"test:{customer.id}:{kind}",
        kind=kind,
        body="【示例小店】您的包裹已发出",
        phone=customer.phone,
        customer_id=customer.id,
        **values,
    )


def plan(drafts, now=NOW, enqueue=False) -> engine.Planned:
    planned = engine.plan(drafts, sender=provider("log"), due_at=now, created_by_id=None, now=now)
    db.session.commit()
    if enqueue:
        engine.enqueue(planned.jobs)
    return planned


def statuses() -> Counter:
    db.session.commit()
    return Counter(db.session.scalars(select(Message.status)))


def test_a_message_is_planned_once_whatever_plans_it_again(make_customer):
    customer = make_customer()
    first = plan([draft(customer)])
    second = plan([draft(customer)])
    assert (first.scheduled, second.scheduled, second.duplicates) == (1, 0, 1)
    assert db.session.scalar(select(func.count()).select_from(Message)) == 1


def test_jobs_carry_message_ids_in_batches(make_customer):
    customers = [make_customer() for _ in range(3)]
    drafts = [draft(c, key=f"k{c.id}:{n}") for c in customers for n in range(400)]  # 1,200 messages
    planned = plan(drafts, enqueue=True)
    jobs = [get_queue().fetch_job(job_id) for job_id in planned.batches]
    assert sorted(len(job.args[0]) for job in jobs) == [200, 500, 500]
    ids = sorted(i for job in jobs for i in job.args[0])
    assert ids == sorted(db.session.scalars(select(Message.id)))
    # Each message knows the job that holds it (the sweeper reads this).
    assert {m.job_id for m in db.session.scalars(select(Message))} == set(planned.batches)


def test_skipped_drafts_are_recorded_with_their_reason_and_never_queued(make_customer):
    customer = make_customer(phone=None)
    planned = plan([draft(customer, skip_reason=SkipReason.NO_PHONE)], enqueue=True)
    message = db.session.scalar(select(Message))
    assert (message.status, message.skip_reason, planned.batches) == (MessageStatus.SKIPPED, SkipReason.NO_PHONE, {})


def test_two_workers_claiming_the_same_batch_get_each_message_once(app, make_customer):
    customer = make_customer()
    ids = plan([draft(customer, key=f"k{n}") for n in range(300)]).batches.popitem()[1]
    claimed: dict[str, list[int]] = {}
    start = threading.Barrier(2)

    def worker(token):
        with app.app_context():
            start.wait()
            claimed[token] = [row.id for row in engine.claim(ids, token, NOW)]
            db.session.commit()
            db.session.remove()

    threads = [threading.Thread(target=worker, args=(token,)) for token in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed["a"] + claimed["b"]) == sorted(ids)
    assert not set(claimed["a"]) & set(claimed["b"])


def test_a_message_not_yet_due_is_not_claimed(make_customer):
    ids = plan([draft(make_customer())], now=NOW + timedelta(hours=1)).batches.popitem()[1]
    assert engine.claim(ids, "early", NOW) == []


def test_a_number_blacklisted_after_planning_is_skipped_at_sending(make_customer):
    customer, other = make_customer(), make_customer()
    ids = plan([draft(customer), draft(other)]).batches.popitem()[1]
    blacklist.add(customer.phone, BlacklistReason.MANUAL, source="manual", actor=None)
    db.session.commit()
    result = engine.send_batch(ids, now=NOW)
    assert (result.skipped, result.sent) == (1, 1)
    skipped = db.session.scalar(select(Message).where(Message.customer_id == customer.id))
    assert (skipped.status, skipped.skip_reason, skipped.provider_ref) == (
        MessageStatus.SKIPPED,
        SkipReason.BLACKLISTED,
        None,
    )


def test_flagged_customers_get_service_messages_but_no_marketing(make_customer):
    customer = make_customer(flag_picky=True)
    ids = plan([draft(customer, MessageKind.SERVICE), draft(customer, MessageKind.MARKETING)]).batches.popitem()[1]
    engine.send_batch(ids, now=NOW)
    by_kind = {m.kind: (m.status, m.skip_reason) for m in db.session.scalars(select(Message))}
    assert by_kind == {
        MessageKind.SERVICE: (MessageStatus.SENT, None),
        MessageKind.MARKETING: (MessageStatus.SKIPPED, SkipReason.FLAGGED),
    }


def test_the_frequency_cap_holds_at_sending_across_campaigns_and_spares_service(make_customer):
    customer = make_customer()
    earlier = [draft(customer, MessageKind.MARKETING, key=f"earlier{n}") for n in range(2)]
    engine.send_batch(plan(earlier, now=NOW - timedelta(days=3)).batches.popitem()[1], now=NOW - timedelta(days=3))
    ids = plan(
        [
            draft(customer, MessageKind.MARKETING, key="third"),
            draft(customer, MessageKind.SERVICE, key="notice"),
        ]
    ).batches.popitem()[1]
    engine.send_batch(ids, now=NOW)
    third = db.session.scalar(select(Message).where(Message.dedupe_key == "third"))
    notice = db.session.scalar(select(Message).where(Message.dedupe_key == "notice"))
    assert (third.status, third.skip_reason) == (MessageStatus.SKIPPED, SkipReason.FREQUENCY_CAP)
    assert notice.status == MessageStatus.SENT
    # A week later the cap has room again.
    later = plan([draft(customer, MessageKind.MARKETING, key="next week")], now=NOW + timedelta(days=7, hours=1))
    engine.send_batch(later.batches.popitem()[1], now=NOW + timedelta(days=7, hours=1))
    assert db.session.scalar(select(Message.status).where(Message.dedupe_key == "next week")) == MessageStatus.SENT


def test_two_marketing_messages_in_one_batch_respect_the_cap(make_customer):
    customer = make_customer()
    ids = plan([draft(customer, MessageKind.MARKETING, key=f"m{n}") for n in range(3)]).batches.popitem()[1]
    engine.send_batch(ids, now=NOW)
    assert statuses() == Counter({MessageStatus.SENT: 2, MessageStatus.SKIPPED: 1})


def test_a_message_whose_window_closed_waits_for_the_next_opening(make_customer):
    noon = datetime(2026, 11, 25, 4, 0)  # 12:00:00 in Shanghai: 09:30–12:00 has just closed
    ids = plan([draft(make_customer())], now=noon).batches.popitem()[1]
    result = engine.send_batch(ids, now=noon)
    message = db.session.scalar(select(Message))
    assert (result.later, message.status) == (1, MessageStatus.SCHEDULED)
    assert message.due_at == datetime(2026, 11, 25, 6, 0)  # 14:00 in Shanghai
    assert message.job_id not in ("", None)


def test_marketing_loses_the_evening_window_to_the_providers_curfew(make_customer):
    evening = datetime(2026, 11, 25, 12, 30)  # 20:30 in Shanghai: open for service only
    customer = make_customer()
    ids = plan(
        [draft(customer, MessageKind.SERVICE), draft(customer, MessageKind.MARKETING)], now=evening
    ).batches.popitem()[1]
    engine.send_batch(ids, now=evening)
    by_kind = {m.kind: (m.status, m.due_at) for m in db.session.scalars(select(Message))}
    assert by_kind[MessageKind.SERVICE][0] == MessageStatus.SENT
    assert by_kind[MessageKind.MARKETING] == (MessageStatus.SCHEDULED, datetime(2026, 11, 26, 1, 30))  # 09:30


def test_the_sweeper_marks_what_a_silent_worker_held_unknown_and_never_resends_it(app, make_customer):
    ids = plan([draft(make_customer())]).batches.popitem()[1]
    engine.claim(ids, "a worker that died", NOW)
    db.session.commit()
    lease = timedelta(seconds=app.config["SMS_CLAIM_LEASE_SECONDS"])
    assert engine.sweep(NOW + lease / 2).unknown == 0  # still within its lease
    assert engine.sweep(NOW + lease + timedelta(seconds=1)).unknown == 1
    assert statuses() == Counter({MessageStatus.UNKNOWN: 1})
    assert engine.send_batch(ids, now=NOW + 2 * lease).claimed == 0
    assert engine.sweep(NOW + 2 * lease).requeued == 0


def test_the_sweeper_leaves_messages_a_live_job_holds(make_customer):
    plan([draft(make_customer())], enqueue=True)
    assert engine.sweep(NOW).requeued == 0


def test_redis_flushed_mid_send_loses_nothing_and_sends_nothing_twice(app, all_day, make_customer, run_jobs):
    customers = [make_customer() for _ in range(3)]
    now = engine._utcnow()
    planned = plan([draft(c, key=f"k{c.id}:{n}") for c in customers for n in range(400)], now=now, enqueue=True)
    first_job = next(iter(planned.batches.values()))
    send_batch_job(first_job)  # one batch went out, then Redis lost everything
    get_redis().flushdb()  # all the portal keeps in Redis (FLUSHALL would empty the other test runs too)
    assert statuses()[MessageStatus.SENT] == 500
    assert engine.sweep().requeued == 700
    run_jobs()
    assert statuses() == Counter({MessageStatus.SENT: 1200})
    refs = list(db.session.scalars(select(Message.provider_ref)))
    assert len(set(refs)) == 1200


def test_paused_campaign_waits_then_resumes(make_customer, make_user):
    supervisor = make_user()
    template = SmsTemplate(name="t", kind=MessageKind.SERVICE, body="hi", defaults={}, provider_codes={})
    db.session.add(template)
    db.session.flush()
    campaign = Campaign(
        name="c", template_id=template.id, audience={}, status=CampaignStatus.SENDING, created_by_id=supervisor.id
    )
    db.session.add(campaign)
    db.session.commit()
    ids = plan([draft(make_customer(), campaign_id=campaign.id)]).batches.popitem()[1]
    engine.pause(campaign.id)
    db.session.commit()
    assert engine.send_batch(ids, now=NOW).claimed == 0
    assert engine.sweep(NOW).requeued == 0 and engine.finish_campaigns([campaign.id]) == 0
    jobs = engine.resume(campaign.id, MessageKind.SERVICE, provider("log"), NOW)
    db.session.commit()
    (resumed,) = jobs.values()
    assert engine.send_batch(resumed[0], now=NOW).sent == 1
    assert db.session.get(Campaign, campaign.id).status == CampaignStatus.DONE


def test_cancel_skips_what_has_not_left(make_customer, make_user):
    supervisor = make_user()
    template = SmsTemplate(name="t", kind=MessageKind.SERVICE, body="hi", defaults={}, provider_codes={})
    db.session.add(template)
    db.session.flush()
    campaign = Campaign(name="c", template_id=template.id, audience={}, created_by_id=supervisor.id)
    db.session.add(campaign)
    db.session.commit()
    customers = [make_customer() for _ in range(2)]
    ids = plan([draft(c, campaign_id=campaign.id) for c in customers]).batches.popitem()[1]
    engine.send_batch(ids[:1], now=NOW)
    assert engine.cancel(campaign.id) == 1
    db.session.commit()
    assert statuses() == Counter({MessageStatus.SENT: 1, MessageStatus.SKIPPED: 1})


def test_the_rate_limit_is_one_budget_a_second_for_all_workers(app):
    redis = get_redis()
    clock = [1000.25]
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        clock[0] += seconds

    limiter.take(redis, "fake", 3, 5, clock=lambda: clock[0], sleep=sleep)
    limiter.take(redis, "fake", 2, 5, clock=lambda: clock[0], sleep=sleep)
    assert waits == []
    limiter.take(redis, "fake", 1, 5, clock=lambda: clock[0], sleep=sleep)  # the second's budget is spent
    assert waits == [0.75] and int(clock[0]) == 1001
    assert int(redis.get("sms:rate:fake:1000")) == 5 and int(redis.get("sms:rate:fake:1001")) == 1


def test_workers_in_threads_never_exceed_the_limit_in_any_second(app):
    seconds = Counter()
    lock = threading.Lock()

    def worker():
        with app.app_context():
            for _ in range(5):
                second = limiter.take(get_redis(), "shared", 1, 4)
                with lock:
                    seconds[second] += 1

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(seconds.values()) == 15
    assert max(seconds.values()) <= 4


def test_the_log_provider_reports_delivery_a_moment_later(all_day, make_customer, run_jobs):
    now = engine._utcnow()
    plan([draft(make_customer())], now=now, enqueue=True)
    run_jobs()
    assert statuses() == Counter({MessageStatus.SENT: 1})
    scheduled = get_queue().scheduled_job_registry
    (receipt_job,) = [get_queue().fetch_job(job_id) for job_id in scheduled.get_job_ids()]
    assert scheduled.get_scheduled_time(receipt_job) > datetime.now(UTC)  # a moment later, not at once
    receipt_job.perform()
    message = db.session.scalar(select(Message))
    assert (message.status, message.delivered_at is not None) == (MessageStatus.DELIVERED, True)


def test_the_sweep_command_runs_the_sweeper_once(app, make_customer):
    ids = plan([draft(make_customer())]).batches.popitem()[1]
    engine.claim(ids, "a worker that died", NOW)  # its lease lapsed days ago
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["sms", "sweep"])
    assert result.exit_code == 0, result.output
    assert "unknown: 1; requeued: 0" in result.output
    assert statuses() == Counter({MessageStatus.UNKNOWN: 1})
