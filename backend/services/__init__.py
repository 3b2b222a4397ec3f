"""Domain services: every write goes through here, inside ``transaction.atomic()``."""
