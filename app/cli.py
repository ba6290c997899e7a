"""`flask` commands: create the first admin of a real install, load demo data, count the
follow-up audit's figures again, and the `sms` group (when a message would leave, what a text
costs to send, the sweeper)."""

import json
import sys
from datetime import UTC, datetime

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from .extensions import db
from .models import MessageKind, Role

# `flask sms …`: a command of the group is `@sms.command(...)` at module level, below.
sms = AppGroup("sms", help="SMS: when a message would leave, what a text costs to send, the sweeper.")


@sms.command("when")
@click.option("--kind", type=click.Choice([kind.value for kind in MessageKind]), required=True)
@click.option("--provider", default=None, help="The provider whose curfew applies (default: SMS_PROVIDER).")
@click.option("--at", "at", required=True, help="When the message is queued, ISO-8601; without an offset, shop time.")
def sms_when(kind: str, provider: str | None, at: str):
    """Print when a message queued at --at leaves, in the shop's time zone (windows as saved in settings)."""
    from .params import FIRST_DAY, LAST_DAY
    from .sending import settings as sending_settings
    from .sending.providers import PROVIDER_NAMES
    from .sending.windows import NoSendWindow
    from .settings.services import active_curfew
    from .shop_calendar import shop_time_to_utc, to_shop_time

    if provider is not None and provider not in PROVIDER_NAMES:
        raise click.BadParameter(f"one of {', '.join(PROVIDER_NAMES)}", param_hint="--provider")
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


@sms.command("sweep")
def sms_sweep():
    """Run the sweeper once: outcome unknown for what silent workers held, due messages no live
    job holds to new jobs, campaigns with nothing left closed."""
    from .sending import engine

    swept = engine.sweep()
    click.echo(f"unknown: {swept.unknown}; requeued: {swept.requeued}; campaigns finished: {swept.finished}")


def register(app: Flask) -> None:
    app.cli.add_command(sms)
    app.cli.add_command(rebuild_follow_up_figures)

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


@click.command("rebuild-follow-up-figures")
def rebuild_follow_up_figures():
    """Count each person's follow-up tasks per due day again from the tasks (the follow-up
    audit's figures), after tasks were written other than through the app."""
    from .followups import daily_figures

    rows = daily_figures.rebuild()
    db.session.commit()
    click.echo(f"{rows} days of follow-up figures counted again.")


@sms.command("parts")
@click.argument("text")
@click.option("--provider", default=None, help="Count as this provider bills (default: the SMS_PROVIDER setting).")
@click.option(
    "--kind",
    type=click.Choice(["marketing", "service"]),
    default="marketing",
    show_default=True,
    help="Marketing texts get the provider's opt-out text at the end.",
)
@click.option("--bare", is_flag=True, help="Count TEXT exactly as given: no signature, no opt-out text.")
def sms_parts(text: str, provider: str | None, kind: str, bare: bool):
    """Length and billed parts of TEXT as it would be sent: the signature 【SHOP_NAME】 in front
    and, for marketing, the opt-out text at the end. Exits with status 1 past the provider's maximum."""
    from .messages.services import final, rules_of
    from .sending import texts
    from .sending.providers import PROVIDER_NAMES

    provider = provider or current_app.config["SMS_PROVIDER"]
    if provider not in PROVIDER_NAMES:
        raise click.BadParameter(f"one of {', '.join(PROVIDER_NAMES)}", param_hint="--provider")
    if bare:
        counted = texts.count(text, rules_of(provider)[0])
    else:
        result = final(text, kind, provider, current_app.config["SHOP_NAME"])
        text, counted = result.text, result.count
    answer = {"text": text, "length": counted.length, "encoding": counted.encoding, "parts": counted.parts}
    click.echo(json.dumps(answer, ensure_ascii=False))
    if counted.over_limit:
        click.echo(f"too long: {counted.length} of at most {counted.limit} for {provider}", err=True)
        sys.exit(1)
