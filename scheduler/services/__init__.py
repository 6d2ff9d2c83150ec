"""Use cases: ORM <-> domain glue, one transaction per use case."""
