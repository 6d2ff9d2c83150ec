"""Clinic settings, for admins: providers and their hours, time off, closures, services."""
from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from ..extensions import db
from ..models import Closure, Provider, Service, TimeOff
from .staff_roles import ADMIN, staff_only

settings = Blueprint("settings", __name__, url_prefix="/staff/settings")


@settings.after_request
def private_page(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@settings.get("/")
@staff_only(*ADMIN)
def index():
    return render_template(
        "staff/settings.html",
        providers=db.session.scalars(select(Provider).order_by(Provider.id)).all(),
        services=db.session.scalars(select(Service).order_by(Service.id)).all(),
        closures=db.session.scalars(select(Closure).order_by(Closure.first_day)).all(),
        time_off=db.session.scalars(select(TimeOff).order_by(TimeOff.starts_at)).all(),
    )
