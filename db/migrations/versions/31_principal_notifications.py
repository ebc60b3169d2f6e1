"""Tell listeners when a user, a session or a revoked token changes (the principal cache).

Each change sends `pg_notify('homeward_principals', ...)` from the changing transaction, so it
is heard only if and when that transaction commits: `user:<id>` for a user's row,
`token:<jti>` for a session or a revocation, `*` for a TRUNCATE.

Revision ID: 0311
Revises: 0310
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0311"
down_revision: str | Sequence[str] | None = "0310"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, row events, the payload built from the row)
_TRIGGERS = (
    ("users", "UPDATE OR DELETE", "'user:' || COALESCE(NEW.id, OLD.id)::text"),
    ("sessions", "INSERT OR UPDATE OR DELETE", "'token:' || COALESCE(NEW.jti, OLD.jti)"),
    ("revoked_tokens", "INSERT OR UPDATE", "'token:' || COALESCE(NEW.jti, OLD.jti)"),
)


def upgrade() -> None:
    for table, events, payload in _TRIGGERS:
        op.execute(
            f"""
            CREATE FUNCTION homeward_notify_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('homeward_principals', {payload});
                RETURN NULL;
            END $$
            """
        )
        op.execute(
            f"CREATE TRIGGER homeward_principals_{table} AFTER {events} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION homeward_notify_{table}()"
        )
    op.execute(
        """
        CREATE FUNCTION homeward_notify_principals_all() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('homeward_principals', '*');
            RETURN NULL;
        END $$
        """
    )
    for table, _, _ in _TRIGGERS:
        op.execute(
            f"CREATE TRIGGER homeward_principals_{table}_truncate AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION homeward_notify_principals_all()"
        )


def downgrade() -> None:
    for table, _, _ in _TRIGGERS:
        op.execute(f"DROP TRIGGER homeward_principals_{table}_truncate ON {table}")
        op.execute(f"DROP TRIGGER homeward_principals_{table} ON {table}")
        op.execute(f"DROP FUNCTION homeward_notify_{table}()")
    op.execute("DROP FUNCTION homeward_notify_principals_all()")
