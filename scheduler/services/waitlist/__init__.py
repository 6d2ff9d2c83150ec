"""The waitlist: entries (joining, leaving, the desk's view), openings (time a change freed,
recorded through events.py) and offers of freed times."""
