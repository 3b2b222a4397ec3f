"""Roles, authentication, row scoping and field permission classes."""
