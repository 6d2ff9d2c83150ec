"""The OpenAPI 3.1 document of the JSON API, exactly as strict as the app: one part per
module of the API (public, waitlist, staff, courses, settings), what they share
(shapes.py), and document.py, which puts them together and reads request bodies by them."""
