"""`flask` commands: create the first admin of a real install, load demo data, ask the SMS engine."""

from datetime import UTC, datetime

import click
from flask import Flask
from flask.cli import AppGroup

from .extensions import db
from .models import MessageKind, Role

# `flask sms …`: the SMS engine's commands.
sms = AppGroup("sms", help="SMS: the sending engine's commands.")


@sms.command("when")
@click.option("--kind", type=click.Choice([kind.value for kind in MessageKind]), required=True)
@click.option("--provider", default=None, help="The provider whose curfew applies (default: SMS_PROVIDER).")
@click.option("--at", "at", required=True, help="When the message is queued, ISO-8601; without an offset, shop time.")
def sms_when(kind: str, provider: str | None, at: str):
    """Print when a message queued at --at leaves, in the shop's time zone (windows as saved in settings)."""
    from .params import FIRST_DAY, LAST_DAY
    from .sending import settings as sending_settings
    from .sending.windows import NoSendWindow
    from .settings.services import CURFEWS, active_curfew
    from .shop_calendar import shop_time_to_utc, to_shop_time

    if provider is not None and provider not in CURFEWS:
        raise click.BadParameter(f"one of {', '.join(CURFEWS)}", param_hint="--provider")
    try:
        queued = datetime.fromisoformat(at)
    except ValueError:
        raise click.BadParameter(
            "an ISO-8601 time, e.g. 2025-06-03T19:00 or 2025-06-03T19:00+08:00", param_hint="--at"
        ) from None
    local_day = queued.date()
    if not FIRST_DAY <= local_day <= LAST_DAY:
        raise click.BadParameter(f"a time from {FIRST_DAY} to {LAST_DAY}", param_hint="--at")
    if queued.tzinfo is None:
        queued = shop_time_to_utc(queued)
    else:
        queued = queued.astimezone(UTC).replace(tzinfo=None)
    try:
        leaves = sending_settings.leaves_at(kind, queued, active_curfew(provider))
    except NoSendWindow:
        raise click.ClickException(f"a {kind} message never leaves: no window is open in the week") from None
    click.echo(to_shop_time(leaves).isoformat())


def register(app: Flask) -> None:
    app.cli.add_command(sms)

    @app.cli.command("create-admin")
    @click.argument("username")
    @click.option("--name", default=None, help="Display name (defaults to the username).")
    @click.password_option()
    def create_admin(username: str, name: str | None, password: str):
        """Create an admin account (the first user of a real install)."""
        from .accounts.services import UsernameTaken, create_user

        if len(password) < 8:  # the rule of the users page (app.accounts.forms)
            raise click.BadParameter("at least 8 characters", param_hint="password")
        try:
            create_user(username, name or username, Role.ADMIN, password)
        except UsernameTaken:
            raise click.ClickException(f"user {username!r} already exists") from None
        db.session.commit()
        click.echo(f"Admin {username} created.")

    @app.cli.command("seed-demo")
    @click.option("--customers", default=300, show_default=True)
    def seed_demo(customers: int):
        """Load demo users, customers and a year of orders, once (skipped if users exist)."""
        from .demo import seed

        logins = seed(customers)
        if not logins:
            click.echo("Demo data already present; nothing loaded.")
            return
        click.echo("Demo logins (username / password):")
        for username, role, password in logins:
            click.echo(f"  {role:<11} {username:<10} {password}")
