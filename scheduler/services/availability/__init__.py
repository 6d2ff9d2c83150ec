"""Open times: loading schedules and busy time for the pure search (`domain.availability`),
as patients see them (`open_times`) and as the staff see them (`staff_times`)."""
