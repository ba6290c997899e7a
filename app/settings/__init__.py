"""Settings (设置): the shop's send windows and marketing frequency cap, for admins."""

from flask import Blueprint

bp = Blueprint("settings", __name__, url_prefix="/settings")
