"""Staff: accounts and API tokens, and `access`: the one rule of who may see and act on which
provider's calendar (deny by default)."""
