"""backend/registry.py names each model's GraphQL type; this keeps the names and the schema in
step, both ways, and checks that the schema takes them from there rather than spelling them
out again."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from django.db.models import Model
from graphql import GraphQLObjectType

from backend import models as m
from backend.registry import REGISTRY, removable_models, type_names
from schema import schema

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schema"


def _schema_types() -> dict[type[Model], set[str]]:
    """Model -> the names of the schema's object types that declare it (strawberry-django)."""
    found: dict[type[Model], set[str]] = defaultdict(set)
    for name, graphql_type in schema._schema.type_map.items():
        if not isinstance(graphql_type, GraphQLObjectType):
            continue
        definition = (graphql_type.extensions or {}).get("strawberry-definition")
        origin = getattr(definition, "origin", None)
        django = getattr(origin, "__strawberry_django_definition__", None)
        if django is not None and django.model is not None:
            found[django.model].add(name)
    return found


def test_each_type_name_in_the_registry_is_a_schema_type_of_that_model():
    # given the schema's object types and the models they declare
    declared = _schema_types()
    # when each registry entry's type name is looked up
    wrong = {
        model._meta.label: (name, sorted(declared.get(model, ())))
        for model, name in type_names().items()
        if name not in declared.get(model, ())
    }
    # then every name is a type of the schema for that very model
    assert wrong == {}


def test_every_model_with_a_schema_type_has_its_type_name_in_the_registry():
    # given the models the schema's types declare
    declared = _schema_types()
    # then each has its type name in the registry
    assert sorted(m._meta.label for m in declared if m not in type_names()) == []


def test_type_names_are_unique():
    names = [entry.type_name for entry in REGISTRY.values() if entry.type_name]
    assert len(names) == len(set(names))


def test_removable_models_are_the_removable_base_class_ones():
    assert removable_models() == (m.Tip, m.Subject, m.Identifier, m.Lead, m.ResearchResult)


def test_schema_modules_never_spell_out_a_registered_type_name():
    # given every type name the registry holds
    names = {entry.type_name for entry in REGISTRY.values() if entry.type_name}
    # when the schema's modules are read
    literals = sorted(
        f"{path.relative_to(SCHEMA_DIR.parent)}:{node.lineno} {node.value!r}"
        for path in SCHEMA_DIR.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        if isinstance(node, ast.Constant) and node.value in names
    )
    # then none is written there: a model's type is declared with schema.base.model_type and a
    # global id is built with backend.registry.type_name, both reading the registry
    assert literals == []


def test_each_model_types_id_and_plain_columns_resolve_as_basic_fields():
    """schema.base.model_type makes a model type's relay id and its plain column fields basic
    (resolved without strawberry's per-object argument and extension chain): the dashboard's
    pages depend on it for their speed, and a library upgrade could undo it silently."""
    from schema.base import ColumnField, RecordIdField

    # given every model type the registry names
    types = {name for name in type_names().values()}
    slow = []
    for name in sorted(types):
        graphql_type = schema._schema.type_map.get(name)
        definition = (graphql_type.extensions or {}).get("strawberry-definition")
        django = definition.origin.__strawberry_django_definition__
        for field in definition.fields:
            # when its id, and each field on a concrete non-relational column with no
            # resolver, extension or argument, is looked at
            column = next(
                (
                    f
                    for f in django.model._meta.concrete_fields
                    if f.name == (getattr(field, "django_name", None) or field.python_name)
                ),
                None,
            )
            plain = (
                column is not None
                and not column.is_relation
                and field.base_resolver is None
                and not field.extensions
            )
            if field.python_name == "_id":
                expected = RecordIdField
            elif plain:
                expected = ColumnField
            else:
                continue
            # then it is basic, of the class that makes it so
            if not (isinstance(field, expected) and field.is_basic_field):
                slow.append(f"{name}.{field.python_name}")
    assert not slow, slow
    assert types  # (the registry names types at all)
