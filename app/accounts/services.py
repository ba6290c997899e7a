"""Accounts: the shop's people. Creating, deactivating and resetting users (admin), checking
logins, and who the sales staff are and how much each of them holds."""

from dataclasses import dataclass

from sqlalchemy import exists, func, or_, select

from .. import audit_log
from ..extensions import db
from ..models import AuditAction, Customer, FollowUp, FollowUpStatus, Role, User


class UsernameTaken(ValueError):
    pass


class WrongPassword(ValueError):
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
    audit_log.record(
        AuditAction.USER_CREATED,
        subject=f"user:{user.id}",
        after={"username": username, "role": str(role)},
        actor=actor,
    )
    return user


def _end_sessions(user: User) -> None:
    """Every session and "keep me signed in" cookie of theirs stops working (app.accounts.sessions)."""
    user.session_version += 1


def set_active(user: User, active: bool, actor: User) -> None:
    audit_log.record(
        AuditAction.USER_ACTIVATED if active else AuditAction.USER_DEACTIVATED,
        subject=f"user:{user.id}",
        before={"active": user.active},
        after={"active": active},
        actor=actor,
    )
    user.active = active
    if not active:  # and reactivating later must not bring their old sessions back
        _end_sessions(user)


def reset_password(user: User, password: str, actor: User) -> None:
    user.set_password(password)
    _end_sessions(user)
    audit_log.record(AuditAction.USER_PASSWORD_RESET, subject=f"user:{user.id}", actor=actor)


def change_password(user: User, current: str, new: str) -> None:
    """A person changes their own password, knowing the current one; their sessions end."""
    if not user.check_password(current):
        raise WrongPassword
    user.set_password(new)
    _end_sessions(user)
    audit_log.record(AuditAction.USER_PASSWORD_CHANGED, subject=f"user:{user.id}", actor=user)


def sign_out_everywhere(user: User) -> None:
    _end_sessions(user)
    audit_log.record(AuditAction.USER_SIGNED_OUT_EVERYWHERE, subject=f"user:{user.id}", actor=user)


def staff() -> list[User]:
    """Every user, active ones first."""
    return list(db.session.scalars(select(User).order_by(User.active.desc(), User.role, User.username)))


def sales_staff(excluding: User | None = None, inactive: bool = False) -> list[User]:
    """The sales staff, by name: the people customers may be given to (and, with `inactive`,
    those who left, whose customers and tasks are still on record)."""
    query = select(User).where(User.role == Role.SALES).order_by(User.display_name, User.id)
    if not inactive:
        query = query.where(User.active)
    if excluding is not None:
        query = query.where(User.id != excluding.id)
    return list(db.session.scalars(query))


@dataclass(frozen=True)
class Load:
    """A person's customers and open follow-ups."""

    user_id: int
    name: str
    customers: int = 0
    open_tasks: int = 0

    @property
    def holds_any(self) -> bool:
        """Whether they must hand customers or tasks over before leaving."""
        return bool(self.customers or self.open_tasks)


def loads_of(users: list[User]) -> list[Load]:
    ids = [user.id for user in users]
    owned = dict(
        db.session.execute(
            select(Customer.owner_id, func.count()).where(Customer.owner_id.in_(ids)).group_by(Customer.owner_id)
        ).all()
    )
    tasks = dict(
        db.session.execute(
            select(FollowUp.assignee_id, func.count())
            .where(FollowUp.assignee_id.in_(ids), FollowUp.status == FollowUpStatus.OPEN)
            .group_by(FollowUp.assignee_id)
        ).all()
    )
    return [Load(user.id, user.display_name, owned.get(user.id, 0), tasks.get(user.id, 0)) for user in users]


def holding(users: list[User]) -> set[int]:
    """The ids of those of `users` who own a customer or hold an open follow-up (Load.holds_any):
    one look into the indexes per person, not a count of everything they hold."""
    # Ordered as ix_customers_owner_last_paid is, so PostgreSQL reads that index: under EXISTS it
    # would scan the table, to its end for a person who owns none (60 ms at 100,000 customers).
    first_owned = (
        select(Customer.owner_id)
        .where(Customer.owner_id == User.id)
        .order_by(Customer.last_paid_at)
        .limit(1)
        .correlate(User)
        .scalar_subquery()
    )
    owns = first_owned.is_not(None)
    has_tasks = exists().where(FollowUp.assignee_id == User.id, FollowUp.status == FollowUpStatus.OPEN)
    ids = [user.id for user in users]
    return set(db.session.scalars(select(User.id).where(User.id.in_(ids), or_(owns, has_tasks))))


def sales_loads(excluding: User | None = None) -> list[Load]:
    return loads_of(sales_staff(excluding))
