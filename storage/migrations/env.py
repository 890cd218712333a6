"""Alembic environment: duban's tables from SQLModel.metadata, on the connection duban hands over."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from storage import models  # noqa: F401  (registers the tables)

config = context.config
target_metadata = SQLModel.metadata


def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


connection = config.attributes.get("connection")
if connection is None:  # run from the alembic command line: `alembic -x url=… upgrade head`
    import sqlalchemy as sa

    from storage.engines import resolve_url

    url = context.get_x_argument(as_dictionary=True).get("url")
    engine = sa.create_engine(resolve_url(url))
    with engine.begin() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
else:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()
