"""The landing page, the per-user language choice, and the bare page benchmarks measure against."""

from flask import Blueprint

bp = Blueprint("main", __name__)
