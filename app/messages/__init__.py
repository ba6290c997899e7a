"""SMS pages (SPEC §7): the templates with their live preview, the message log, sending one message by hand."""

from flask import Blueprint

bp = Blueprint("messages", __name__, url_prefix="/messages")
