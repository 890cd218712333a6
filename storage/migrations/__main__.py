"""Writes the next revision from the difference between the models and the newest revision:
``python -m storage.migrations "what changed"``. Review it, then add its id to ``REVISIONS``."""

from __future__ import annotations

import sys

import sqlalchemy as sa
from alembic import command

from storage import migrations


def main(message: str) -> None:
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        command.upgrade(migrations.alembic_config(conn), "head")
        rev_id = f"{int(migrations.HEAD) + 1:04d}"
        command.revision(migrations.alembic_config(conn), message=message, autogenerate=True, rev_id=rev_id)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit('usage: python -m storage.migrations "what changed"')
    main(sys.argv[1])
