"""Pure domain logic: standard library and dateutil only, no Flask, no clock, no session."""
