"""Campaigns (群发): a template sent to an audience from the registry's filters, at a time."""

from flask import Blueprint

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")
