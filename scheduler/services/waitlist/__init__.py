"""The waitlist: entries (joining, leaving, the desk's view) and offers of freed times."""
