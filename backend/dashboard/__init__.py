"""The analyst dashboard: one server-rendered page whose script draws a tip's linked-entity
graph and the statistics trends from the GraphQL API, with the caller's own session."""
