"""Alembic environment: runs on the connection handed in by bot.store.migrate."""

from alembic import context

from bot.store import all_models

target_metadata = all_models()
config = context.config
connection = config.attributes.get("connection")
if connection is None:  # plain `alembic` CLI use
    from bot.store.db import get_engine

    connection = get_engine(config.get_main_option("sqlalchemy.url")).connect()

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
