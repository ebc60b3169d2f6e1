"""Persistence: SQLAlchemy models, engine and session helpers, embedded PostgreSQL, migrations."""
