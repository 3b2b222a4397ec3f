"""Row-scoped reads compiled to SQL once per process.

A partner's lookup answer loads its records row-scoped (``permissions.scoping``) with their
handling markings (``permissions.markings``). Built through the ORM on every request, that
took about 60 ``filter()`` calls a request, two thirds of its CPU (``docs/benchmarks.md``).

Here each such queryset is built once per process and role, for a stand-in caller, by the same
functions that build it for everyone (so every rule is still written once, in scoping,
partner and markings), and compiled to SQL by Django. The stand-in's values in the
statement's parameters are then replaced by the caller's:

- its id;
- the start of its disclosure window (``scoping.CUTOFF_STAND_IN``);
- the ids asked for, one array parameter.

The statement runs prepared (``backend.prepared``). A generic plan cannot start from the
caller's disclosures, however few the statistics say they are: in a statement being compiled,
the disclosure window is checked row by row (``permissions.scoping._disclosed_filter``).

A compiled statement that does not hold each stand-in where the caller's values must go is
refused when it is compiled, so a rule that starts to depend on something else of the caller
fails loudly instead of reading the stand-in's rows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import connections
from django.db.models import Model, QuerySet

from backend import models as m
from backend.prepared import fetch_prepared
from permissions.partner import OWNING_AGENCY
from permissions.scoping import (
    CUTOFF_STAND_IN,
    DISCLOSABLE,
    ColumnCondition,
    disclosure_cutoff,
    scope_queryset,
)

__all__ = ["Compiled", "among", "compiled", "compiles_for", "scoped_records"]

#: The stand-in caller's id, and its disclosure window's start: values no real row holds.
_STAND_IN_PK = -7_000_000_001
_STAND_IN_CUTOFF = datetime(1901, 2, 3, 4, 5, 6, 789, tzinfo=UTC)


class _StandIn:
    """A caller of one role with no id of its own, for compiling."""

    is_authenticated = True
    is_active = True
    office_id = None

    def __init__(self, role: str) -> None:
        self.role = role
        self.pk = self.id = _STAND_IN_PK


class _Ids(list):
    """The ids parameter of a compiled statement (told apart from any other list by type)."""


def among(column: str) -> ColumnCondition:
    """The condition ``column`` is one of the ids asked for: one array parameter, replaced by
    those ids (an index condition that leads the plan)."""
    return ColumnCondition(column, "{column} = ANY(%s::bigint[])", [_Ids()])


class Compiled:
    """One queryset's SQL with its parameters, and where the caller's values go."""

    def __init__(self, sql: str, params: Sequence[Any], *, partner: bool) -> None:
        self.sql = sql
        self.params = tuple(params)
        slots = [self._slot(value) for value in self.params]
        if slots.count("ids") != 1:
            raise ValueError("a compiled statement takes the ids asked for once (among)")
        if partner and not ({"pk", "cutoff"} <= set(slots)):
            raise ValueError("a partner's statement must name the caller and their window")
        self.slots = slots

    @staticmethod
    def _slot(value: Any) -> str | None:
        if isinstance(value, _Ids):
            return "ids"
        if isinstance(value, int) and not isinstance(value, bool) and value == _STAND_IN_PK:
            return "pk"
        if isinstance(value, datetime) and value == _STAND_IN_CUTOFF:
            return "cutoff"
        return None

    def rows(self, user: Any, ids: Sequence[int]) -> list[tuple[Any, ...]]:
        """The statement's rows for ``user`` and ``ids``, run prepared."""
        values = {"ids": list(ids), "pk": user.pk, "cutoff": disclosure_cutoff()}
        params = [
            value if slot is None else values[slot]
            for value, slot in zip(self.params, self.slots, strict=True)
        ]
        return fetch_prepared(self.sql, params)


def compiled(build: Callable[[Any], QuerySet[Any]], role: str, *, partner: bool) -> Compiled:
    """``build(user)`` for a stand-in caller of ``role``, compiled (once per process for each
    ``build`` and role). ``build`` must restrict its rows with ``among(...)`` and return a
    ``values_list``: the rows are read back as they come."""
    # (the disclosures' content type ids are written into the statement: a database whose
    # content types were made again, as a test's flush does, gets statements of its own)
    content_types = ContentType.objects.get_for_models(*DISCLOSABLE)
    return _compile(build, role, partner, tuple(content_types[d].pk for d in DISCLOSABLE))


@functools.cache
def _compile(
    build: Callable[[Any], QuerySet[Any]], role: str, partner: bool, _content_types: tuple
) -> Compiled:
    token = CUTOFF_STAND_IN.set(_STAND_IN_CUTOFF)
    try:
        sql, params = build(_StandIn(role)).query.sql_with_params()
    finally:
        CUTOFF_STAND_IN.reset(token)
    return Compiled(sql, params, partner=partner)


def _columns(model: type[Model]) -> list[str]:
    """The attributes of ``model``'s columns, in the order ``_records_among`` reads them."""
    return [f.attname for f in model._meta.concrete_fields]


def _records_among(model: type[Model], user: Any) -> QuerySet[Any]:
    return scope_queryset(model._default_manager.filter(among("pk")), user).values_list(
        *_columns(model)
    )


#: The compiled readers of scoped records, one per model (stable keys for the cache).
_RECORDS: dict[type[Model], Callable[[Any], QuerySet[Any]]] = {}


def compiles_for(user: Any) -> bool:
    """Whether ``user``'s reads can be compiled: an active caller of a role whose scoping
    depends on nothing of theirs but their id and disclosure window (the owning agency's
    roles and the partner's); any other caller is scoped through the ORM as before."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and (user.role in OWNING_AGENCY or user.role == m.Role.INVESTIGATOR)
    )


def scoped_records(model: type[Model], ids: Sequence[int], user: Any) -> dict[int, Any]:
    """The records of ``ids`` that ``user`` may see (``scope_queryset``), by id, in the model's
    order, each with every column loaded, from one compiled statement. ``user`` must be one
    that ``compiles_for`` accepts."""
    if not ids:
        return {}
    build = _RECORDS.setdefault(model, functools.partial(_records_among, model))
    rows = compiled(build, user.role, partner=user.role == m.Role.INVESTIGATOR).rows(user, ids)
    alias = model._default_manager.db
    names = _columns(model)
    connection = connections[alias]
    convert = _converters(model, connection)
    key = names.index(model._meta.pk.attname)
    records = {}
    for row in rows:
        values = list(row)
        for index, column, functions in convert:
            for function in functions:
                values[index] = function(values[index], column, connection)
        records[values[key]] = model.from_db(alias, names, values)
    return records


def _converters(model: type[Model], connection: Any) -> list[tuple[int, Any, list[Any]]]:
    """What Django's compiler does to each column it reads (``SQLCompiler.get_converters``):
    a JSON column's text parsed, and the like; the columns that need nothing left out."""
    found = []
    for index, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(model._meta.db_table)
        functions = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if functions:
            found.append((index, column, functions))
    return found
