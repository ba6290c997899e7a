"""Signing in and out, and the admin's user management."""

from flask import Blueprint

bp = Blueprint("accounts", __name__)
