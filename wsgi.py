"""The WSGI entry point: `gunicorn wsgi:app`."""

import gc

from app import create_app

app = create_app()

# What is loaded by now (the app, its libraries) lives as long as the worker. Frozen, the
# collector stops walking it in every full collection: those took 70-110 ms in one request
# in 30 on the bench's queue page. A larger first generation lets most of a request's garbage
# go with its reference counts before a collection starts at all.
gc.collect()
gc.freeze()
gc.set_threshold(10_000)
