"""The demo that `make run` loads on first start: logins that work, a queue and an audit to look at."""

from sqlalchemy import func, select

from app import demo
from app.extensions import db
from app.models import FollowUp, FollowUpStatus, User, utcnow


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
