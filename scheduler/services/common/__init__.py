"""What every capability shares: the one clock, errors, the audit trail (`actor_for`),
secret tokens, the write guard against overlaps, and input parsing shared by forms and JSON."""
