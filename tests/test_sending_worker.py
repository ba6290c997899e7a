"""A real `worker.py` killed with SIGKILL in the middle of a batch: what it handed to the
provider (a fake Twilio API on loopback, which counts every message it receives) is never
handed over again, and what it held is marked "outcome unknown" by the sweeper."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug import Response

from app.extensions import db
from app.models import Message, MessageKind, MessageStatus, SendingSettings
from app.sending import engine
from app.sending.providers import provider

ROOT = Path(__file__).resolve().parent.parent
TWILIO = {
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "twilio-test-token",
    "TWILIO_FROM": "+15005550006",
    "PUBLIC_BASE_URL": "http://portal.test",
}


@pytest.fixture
def fake_twilio(app, httpserver, monkeypatch):
    """Twilio's Messages API on loopback; returns the list of numbers it was handed, in order."""
    received = []

    def answer(request):
        received.append(request.form["To"])
        sid = f"SM{len(received):032d}"
        return Response(json.dumps({"sid": sid, "status": "queued"}), status=201, content_type="application/json")

    httpserver.expect_request(
        re.compile(r"/2010-04-01/Accounts/\w+/Messages\.json"), method="POST"
    ).respond_with_handler(answer)
    settings = TWILIO | {"TWILIO_API_BASE_URL": httpserver.url_for("").rstrip("/")}
    for key, value in settings.items():
        monkeypatch.setitem(app.config, key, value)
    return received, settings


def start_worker(app, settings, rate: int) -> subprocess.Popen:
    env = os.environ | {
        "PORTAL_ENV": "development",
        "SECRET_KEY": app.config["SECRET_KEY"],
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app.config["REDIS_URL"],
        "RQ_QUEUE": app.config["RQ_QUEUE"],
        "SMS_RATE_LIMIT": str(rate),
        **settings,
    }
    return subprocess.Popen(
        [sys.executable, "worker.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill reaches its scheduler children too
    )


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.05)


def statuses() -> Counter:
    db.session.commit()
    return Counter(db.session.scalars(select(Message.status)))


def test_a_worker_killed_mid_batch_hands_nothing_over_twice(app, make_customer, fake_twilio, run_jobs):
    received, settings = fake_twilio
    db.session.add(SendingSettings(id=1, windows={str(d): [["00:00", "24:00"]] for d in range(7)}))
    db.session.commit()
    customers = [make_customer() for _ in range(12)]
    now = engine._utcnow()
    planned = engine.plan(
        [
            engine.Draft(
                dedupe_key=f"notice:{c.id}",
                kind=MessageKind.SERVICE,
                body="Your parcel is on its way",
                phone=c.phone,
                customer_id=c.id,
            )
            for c in customers
        ],
        sender=provider("twilio"),
        due_at=now,
        created_by_id=None,
        now=now,
    )
    db.session.commit()
    engine.enqueue(planned.jobs)

    worker = start_worker(app, settings, rate=2)  # two messages a second: slow enough to kill midway
    try:
        wait_for(lambda: len(received) >= 3, 60, "the worker hands over its first messages")
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    handed = len(received)
    assert 3 <= handed < 12

    at_kill = statuses()
    assert at_kill[MessageStatus.SENDING] > 0  # held by the dead worker
    lease = timedelta(seconds=app.config["SMS_CLAIM_LEASE_SECONDS"])
    swept = engine.sweep(engine._utcnow() + lease + timedelta(seconds=1))
    assert swept.unknown == at_kill[MessageStatus.SENDING]
    assert swept.requeued == 0

    run_jobs()  # whatever is queued runs again: nothing is handed over a second time
    after = statuses()
    assert len(received) == handed
    assert Counter(received).most_common(1)[0][1] == 1
    assert after[MessageStatus.SENT] + after[MessageStatus.UNKNOWN] == 12
    # Every number the provider got is recorded as sent, or unknown if the answer was lost.
    sent_phones = set(db.session.scalars(select(Message.phone).where(Message.status == MessageStatus.SENT)))
    assert sent_phones <= set(received)
