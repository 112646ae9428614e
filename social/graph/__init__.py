"""The Neo4j projection of the friendship graph (PostgreSQL stays the source of truth)."""
