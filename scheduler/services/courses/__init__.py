"""Courses of care: reading a prescription, planning and booking the series, its links and
its state."""
