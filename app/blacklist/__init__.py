"""The SMS blacklist (黑名单): numbers that receive no SMS of any kind."""

from flask import Blueprint

bp = Blueprint("blacklist", __name__, url_prefix="/blacklist")
