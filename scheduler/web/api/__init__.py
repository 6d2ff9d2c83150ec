"""The JSON API v1 (bearer tokens for staff, private links for patients)."""
