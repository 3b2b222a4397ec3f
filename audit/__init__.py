"""The audit log: one row per GraphQL operation, logins, and record history (issue 4)."""
