"""Accounts: creating, deactivating and resetting users (admin), checking logins."""

from sqlalchemy import func, select

from .. import audit
from ..extensions import db
from ..models import Role, User


class UsernameTaken(ValueError):
    pass


def authenticate(username: str, password: str) -> User | None:
    user = db.session.scalar(select(User).where(func.lower(User.username) == username.strip().lower()))
    if user is not None and user.active and user.check_password(password):
        return user
    return None


def create_user(username: str, display_name: str, role: Role, password: str, actor: User | None = None) -> User:
    if db.session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        raise UsernameTaken(username)
    user = User(username=username, display_name=display_name, role=role)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record(
        "user.created", subject=f"user:{user.id}", after={"username": username, "role": str(role)}, actor=actor
    )
    return user


def set_active(user: User, active: bool, actor: User) -> None:
    audit.record(
        "user.activated" if active else "user.deactivated",
        subject=f"user:{user.id}",
        before={"active": user.active},
        after={"active": active},
        actor=actor,
    )
    user.active = active


def reset_password(user: User, password: str, actor: User) -> None:
    user.set_password(password)
    audit.record("user.password_reset", subject=f"user:{user.id}", actor=actor)


def staff() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.active.desc(), User.role, User.username)))


def sales_users() -> list[User]:
    return list(
        db.session.scalars(select(User).where(User.role == Role.SALES, User.active).order_by(User.display_name))
    )
