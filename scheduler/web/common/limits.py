"""Rate limits shared by the pages and the API (one budget per client for each action).

Booking creates a patient record and, once reminders exist, texts: the limit is the guard
against SMS pumping. The manage limit slows down anyone guessing links.
"""
from flask import current_app, request

from scheduler.extensions import limiter

booking_limit = limiter.shared_limit(
    lambda: current_app.config["BOOKING_RATE_LIMIT"],
    scope="booking",
    exempt_when=lambda: request.method != "POST",
)
manage_limit = limiter.shared_limit(lambda: current_app.config["MANAGE_RATE_LIMIT"], scope="manage")
# "Send me my link" and "Text it to me" send messages: a tight budget per client address.
link_request_limit = limiter.shared_limit(
    lambda: current_app.config["LINK_REQUEST_RATE_LIMIT"],
    scope="link_request",
    exempt_when=lambda: request.method != "POST",
)
