"""The demo that `make run` loads on first start: logins that work, a queue and an audit to look at."""

from datetime import timedelta

from sqlalchemy import func, select

from app import demo
from app.extensions import db
from app.models import (
    PAID_STATUSES,
    AuditAction,
    AuditEntry,
    FollowUp,
    FollowUpStatus,
    Kind,
    Order,
    OrderStatus,
    Outcome,
    User,
    utcnow,
)


def test_demo_has_working_logins_and_a_history_of_follow_ups(client):
    logins = demo.seed(customer_count=60)
    assert [username for username, _, _ in logins] == [u for u, _, _ in demo.DEMO_USERS]
    assert demo.seed() == []  # loaded once

    done = db.session.scalar(select(func.count()).where(FollowUp.status == FollowUpStatus.DONE))
    opened = db.session.scalars(select(FollowUp).where(FollowUp.status == FollowUpStatus.OPEN)).all()
    assert done > 0 and opened
    assert len({t.customer_id for t in opened}) == len(opened)
    assert all(
        t.completed_at <= utcnow() for t in db.session.scalars(select(FollowUp).where(FollowUp.status == "done"))
    )

    sales = db.session.scalar(select(User).where(User.username == "sales1"))
    response = client.post("/login", data={"username": "sales1", "password": demo.demo_password("sales1")})
    assert response.headers["Location"] == "/"
    queue = client.get("/follow-ups/", follow_redirects=True).text
    assert "My queue" in queue and sales.display_name in queue


def test_the_demo_agrees_with_itself(app):
    """Played through the real rules: each task is due on the day its timeline says, a buyer is
    never "first contact", an "ordered" outcome is followed by the order, old orders have settled."""
    demo.seed(customer_count=60)
    tasks = db.session.scalars(select(FollowUp)).all()
    opened = {
        (entry.customer_id, entry.after["cycle"]): entry.after
        for entry in db.session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.FOLLOW_UP_OPENED))
    }
    assert len(tasks) > 60
    for task in tasks:
        assert opened[(task.customer_id, task.cycle)]["due_on"] == task.due_on.isoformat()
        assert task.created_at >= task.customer.created_at
        paid_before = db.session.scalar(
            select(func.count()).where(
                Order.customer_id == task.customer_id,
                Order.paid_at < task.created_at,
                Order.status.in_(PAID_STATUSES + (OrderStatus.REFUNDED,)),
            )
        )
        if task.kind == Kind.FIRST_CONTACT:
            assert paid_before == 0, task.customer.name
        elif task.cycle == 1 and paid_before:
            assert task.kind == Kind.REVISIT
    for task in (t for t in tasks if t.outcome == Outcome.ORDERED):
        assert db.session.scalar(
            select(func.count()).where(
                Order.customer_id == task.customer_id,
                Order.created_at.between(task.completed_at, task.completed_at + timedelta(hours=1)),
            )
        )
    stale = select(func.count()).where(
        Order.status.in_([OrderStatus.PAID, OrderStatus.SHIPPED]), Order.created_at < utcnow() - timedelta(days=16)
    )
    assert db.session.scalar(stale) == 0
