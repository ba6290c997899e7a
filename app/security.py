"""What protects every request alike: the development secret key, the proxy setting, the
security headers of every response."""

import os
import secrets
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def kept_secret_key(path: Path) -> str:
    """The key kept in `path`, made at random on the first call and readable by its owner only."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside, then linked in place: of two processes starting at once (the web
        # server and the worker), one key wins and both read it; neither sees a half-written file.
        draft = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


# Only the portal's own files: htmx is vendored, the rest of the script is static/app.js, no
# inline script, style or eval (base.html turns htmx's off). Pico's icons are data: images.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors, for browsers that predate it
    # Addresses carry customers' names and phones in searches: none go to other sites.
    "Referrer-Policy": "same-origin",
}


def register(app: Flask) -> None:
    hops = app.config["PROXY_HOPS"]
    if hops:
        # Each of our proxies appends the address it saw: believe that many entries from
        # the right of X-Forwarded-For, never what the client wrote before them.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops)

    @app.after_request
    def add_security_headers(response):
        response.headers.update(HEADERS)
        return response
