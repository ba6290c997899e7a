"""What protects every request alike: the development secret key, the proxy setting."""

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


def register(app: Flask) -> None:
    hops = app.config["PROXY_HOPS"]
    if hops:
        # Each of our proxies appends the address it saw: believe that many entries from
        # the right of X-Forwarded-For, never what the client wrote before them.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops)
