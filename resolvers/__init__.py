"""Thin functions between the GraphQL schema and the backend services."""
