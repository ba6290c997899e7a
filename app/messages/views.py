"""The messages area's routes. Each page's routes live in a module of their own, imported here so
that they are on the blueprint: the message log (log_views) and sending one message (send_views)."""

from . import bp, log_views, send_views  # noqa: F401
