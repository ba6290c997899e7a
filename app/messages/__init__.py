"""SMS pages (SPEC §7): templates with their live preview; the message log will join them."""

from flask import Blueprint

bp = Blueprint("messages", __name__, url_prefix="/messages")
