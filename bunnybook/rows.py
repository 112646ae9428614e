"""Written-out SQL: the cursor it runs on, and model instances from its rows, built as the
ORM builds its own.

The hottest reads are written out (see DEVELOPERS.md, "Reads written out in SQL"); their
rows still become model instances. `Model.from_db` alone is not enough: the ORM first runs
the backend's converters over each value, and SQLite needs them (its datetimes come back
naive, so a written-out read used to hand `make run` naive datetimes that failed every
comparison with `timezone.now()`). On PostgreSQL there are none, and this costs nothing.
"""

import functools
from collections.abc import Sequence

from django.db import connection
from django.db.models import Model


@functools.cache
def columns(model: type[Model], alias: str) -> str:
    """The model's concrete columns, qualified by `alias`, in field order: what `build`
    reads back. Kept: some statements are put together per request, and a feed page asked
    for three column lists (~0.17 ms in all)."""
    return ", ".join(
        f"{alias}.{connection.ops.quote_name(field.column)}"
        for field in model._meta.concrete_fields
    )


@functools.cache
def attnames(model: type[Model]) -> tuple[str, ...]:
    return tuple(field.attname for field in model._meta.concrete_fields)


@functools.cache
def _converters(model: type[Model], names: tuple[str, ...]) -> tuple:
    """(position, column, converter functions) for the values that need converting."""
    fields = {field.attname: field for field in model._meta.concrete_fields}
    found = []
    for position, name in enumerate(names):
        column = fields[name].get_col(model._meta.db_table)
        functions = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if functions:
            found.append((position, column, tuple(functions)))
    return tuple(found)


def build(model: type[Model], values: Sequence, names: tuple[str, ...] | None = None) -> Model:
    """An instance of `model` from `values`, one per field of `names` (by default all its
    concrete fields, in order); the fields not named are deferred."""
    names = names or attnames(model)
    converters = _converters(model, names)
    if converters:
        values = list(values)
        for position, column, functions in converters:
            for function in functions:
                values[position] = function(values[position], column, connection)
    return model.from_db(connection.alias, names, values)


def build_or_none(model: type[Model], values: Sequence) -> Model | None:
    """`build`, or None for the all-NULL columns of an outer join that found no row."""
    if values[attnames(model).index(model._meta.pk.attname)] is None:
        return None
    return build(model, values)


def build_shared(model: type[Model], values: Sequence, shared: dict) -> Model:
    """`build`, once per primary key among the rows of one read (`shared`: pk -> instance).
    A page of posts names the same few bunnies over and over (authors, walls, commenters),
    and each instance costs more to build than to look up."""
    pk = values[attnames(model).index(model._meta.pk.attname)]
    instance = shared.get(pk)
    if instance is None:
        instance = shared[pk] = build(model, values)
    return instance


def prefetched(instance: Model, related_name: str, objects: list[Model]) -> None:
    """Hand `objects` to `instance` as its prefetched reverse relation `related_name`, as
    prefetch_related does (the same attributes Django's prefetch sets; a test of
    chat.selectors reads participants this way within a counted number of queries):
    `instance.<related_name>.all()` then answers from them, and anything narrower
    (`.filter()`) still asks the database."""
    queryset = getattr(instance, related_name).get_queryset()
    queryset._result_cache = objects
    queryset._prefetch_done = True
    if not hasattr(instance, "_prefetched_objects_cache"):
        instance._prefetched_objects_cache = {}
    instance._prefetched_objects_cache[related_name] = queryset


def split(row: Sequence, models: Sequence[type[Model]]) -> list[Sequence]:
    """A row of several models' `columns`, in that order, cut into each model's values."""
    parts, start = [], 0
    for model in models:
        end = start + len(attnames(model))
        parts.append(row[start:end])
        start = end
    return parts


def cursor():
    """A cursor for written-out SQL. On PostgreSQL it binds parameters on the server, so a
    connection prepares each statement the second time it runs it (settings.py:
    prepare_threshold) and PostgreSQL plans it once: planning cost more than running our
    hot statements (a chat send's participants query: 0.19 ms to plan, 0.12 ms to run).
    The ORM keeps Django's client-side binding: one of its statements may carry more than
    the 65,535 parameters the protocol allows (a cascade deleting thousands of rows); ours
    never do."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    # What connection.cursor() does around the cursor it creates.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        bound = ServerBindingCursor(connection.connection)
    if connection.queries_logged:
        return connection.make_debug_cursor(bound)
    return connection.make_cursor(bound)
