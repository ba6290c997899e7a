"""`flask` commands: create the first admin of a real install, load demo data."""

import click
from flask import Flask

from .extensions import db
from .models import Role


def register(app: Flask) -> None:
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
