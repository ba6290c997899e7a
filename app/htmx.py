"""The one place that decides between a whole page and a fragment of it for htmx.

A page template names its swappable regions as blocks; an htmx request (not a boosted
one, which wants the whole page) gets just the named block, rendered from the same
template, so each piece of markup exists once.
"""

import json

from flask import make_response, render_template, request
from jinja2_fragments.flask import render_block


def is_partial() -> bool:
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-Boosted")


def render(template: str, block: str | None = None, *, status: int = 200, trigger: dict | None = None, **context):
    """The page, or only `block` of it for an htmx request."""
    if block and is_partial():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    if trigger:
        response.headers["HX-Trigger"] = json.dumps(trigger)
    return response
