"""Limits on what one GraphQL operation may ask, checked before anything runs.

``OperationLimits`` adds one validation rule to every operation (beside graphql-core's rules
and strawberry's alias and token limits). It sees the document and the variables as sent, so
a refused operation is refused before any resolver, database query or service runs, is
answered with ``data: null``, and is audited INVALID. Each refusal carries a stable
``extensions.code``:

- ``QUERY_TOO_DEEP``: fields nest deeper than ``GRAPHQL_MAX_DEPTH`` (fragments followed,
  introspection fields not counted, empty selection sets allowed).
- ``QUERY_TOO_COSTLY``: the estimated cost (``estimate_cost``) is above ``GRAPHQL_MAX_COST``.
- ``PAGINATION_LIMIT``: ``first`` or ``last`` above ``GRAPHQL_MAX_RESULTS``;
  ``INVALID_INPUT``: a negative one.
- ``INVALID_CURSOR``: an ``after`` or ``before`` that is not a cursor this API gives out.
- ``INPUT_TOO_LONG``: a string longer than ``GRAPHQL_MAX_STRING_LENGTH`` or a list longer than
  ``GRAPHQL_MAX_LIST_LENGTH``, in the document or in the variables.
- ``INVALID_INPUT``: a string with a NUL character or an unpaired surrogate (which no text
  column can hold), a ``regex``/``iRegex`` filter that PostgreSQL cannot compile, or a
  ``year``/``isoYear`` filter outside the years 1 to 9999.

The messages name the offending argument or variable, never internal details.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    Node,
    NullValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValidationRule,
    ValueNode,
    VariableNode,
    get_named_type,
    is_composite_type,
    is_list_type,
)
from strawberry.extensions import SchemaExtension
from strawberry.relay.types import PREFIX as CURSOR_PREFIX
from strawberry.relay.utils import from_base64

from backend.services.redress import MAX_MARKS as MAX_REDRESS_MARKS

__all__ = [
    "REGEX_LOOKUPS",
    "YEAR_LOOKUPS",
    "Limits",
    "OperationLimits",
    "estimate_cost",
]

#: Lookups whose value PostgreSQL compiles as a regular expression.
REGEX_LOOKUPS = frozenset({"regex", "iRegex"})
#: Date parts whose values must be years Python can hold (1 to 9999).
YEAR_LOOKUPS = frozenset({"year", "isoYear"})
#: Highest offset a cursor may carry (no list is anywhere near this long).
MAX_CURSOR_OFFSET = 10**9
#: A match has at most one reason per lookup criterion (name, date of birth, e-mail, ...),
#: and one per redress mark (``backend.services.redress.MAX_MARKS``).
MAX_MATCH_REASONS = 10
#: Costs are counted up to this, then stop growing (fragments can multiply them without end).
COST_CEILING = 10**15
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits in force, read from settings for each operation."""

    max_depth: int
    max_cost: int
    max_results: int
    max_string_length: int
    max_list_length: int
    lookup_max_tips: int
    screening_max_travellers: int
    screening_max_matches: int
    screening_max_tips: int
    screening_max_match_tips: int

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            max_depth=settings.GRAPHQL_MAX_DEPTH,
            max_cost=settings.GRAPHQL_MAX_COST,
            max_results=settings.GRAPHQL_MAX_RESULTS,
            max_string_length=settings.GRAPHQL_MAX_STRING_LENGTH,
            max_list_length=settings.GRAPHQL_MAX_LIST_LENGTH,
            lookup_max_tips=settings.LOOKUP_MAX_TIPS,
            screening_max_travellers=settings.SCREENING_MAX_TRAVELLERS,
            screening_max_matches=settings.SCREENING_MAX_MATCHES,
            screening_max_tips=settings.SCREENING_MAX_TIPS,
            screening_max_match_tips=settings.SCREENING_MAX_MATCH_TIPS,
        )


def _error(message: str, code: str, node: Node | None = None, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, node, extensions={"code": code, **extensions})


# --- strings and lists, in the document and in the variables ---------------------------------


def _text_problem(text: str, limits: Limits) -> tuple[str, str] | None:
    """(code, reason) when ``text`` may not be an input value, else None."""
    if len(text) > limits.max_string_length:
        return (
            "INPUT_TOO_LONG",
            f"is {len(text)} characters long; at most {limits.max_string_length} are accepted",
        )
    if "\x00" in text:
        return "INVALID_INPUT", "contains a NUL character, which text may not contain"
    if _SURROGATE.search(text):
        return "INVALID_INPUT", "contains an unpaired surrogate, which is not valid Unicode"
    return None


def _list_problem(size: int, limits: Limits) -> tuple[str, str] | None:
    if size > limits.max_list_length:
        return (
            "INPUT_TOO_LONG",
            f"holds {size} items; at most {limits.max_list_length} are accepted",
        )
    return None


def _variable_problems(variables: Mapping[str, Any], limits: Limits) -> Iterator[GraphQLError]:
    """Every string and list of the variables, walked without recursion."""
    stack: list[tuple[str, Any]] = [(f"${name}", value) for name, value in variables.items()]
    while stack:
        path, value = stack.pop()
        problem = None
        if isinstance(value, str):
            problem = _text_problem(value, limits)
        elif isinstance(value, list):
            problem = _list_problem(len(value), limits)
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and (key_problem := _text_problem(key, limits)):
                    yield _error(f"A key in {path} {key_problem[1]}.", key_problem[0])
                stack.append((f"{path}.{key}", item))
        if problem is not None:
            yield _error(f"Variable {path} {problem[1]}.", problem[0], variable=path)


# --- depth and cost ---------------------------------------------------------------------------


def _unwrapped(type_: Any) -> Any:
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return type_


def _is_connection(type_: Any) -> bool:
    return (
        isinstance(type_, GraphQLObjectType)
        and type_.name.endswith("Connection")
        and "edges" in type_.fields
        and "pageInfo" in type_.fields
    )


def _literal(node: ValueNode | None, variables: Mapping[str, Any], *, nested: bool = True) -> Any:
    """The plain value of an Int/String/null argument, or a list of them (a variable's as
    sent); else ``...``."""
    if isinstance(node, VariableNode):
        return variables.get(node.name.value)
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, StringValueNode):
        return node.value
    if node is None or isinstance(node, NullValueNode):
        return None
    if isinstance(node, ListValueNode) and nested:
        return [_literal(item, variables, nested=False) for item in node.values]
    return ...


def _argument(field: FieldNode, name: str) -> ValueNode | None:
    for argument in field.arguments or ():
        if argument.name.value == name:
            return argument.value
    return None


def _page_size(field: FieldNode, variables: Mapping[str, Any], limits: Limits) -> int:
    """How many edges a connection field may return: ``first``/``last``, else a full page."""
    sizes = []
    for name in ("first", "last"):
        value = _literal(_argument(field, name), variables)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            return limits.max_results
        sizes.append(max(0, min(value, limits.max_results)))
    return max(sizes) if sizes else limits.max_results


def _list_bounds(limits: Limits) -> dict[tuple[str, str], int | Fraction]:
    """Lists that are not connections but have a known bound, by (type, field); any other
    list of objects counts as a full page."""
    lookup = limits.lookup_max_tips
    return {
        ("TravellerLookupResult", "matches"): lookup,
        ("TravellerLookupResult", "subjects"): lookup,
        ("TravellerLookupResult", "identifiers"): lookup,
        ("TravellerLookupResult", "tips"): lookup,
        ("TravellerMatch", "tips"): lookup,
        ("TravellerMatch", "reasons"): MAX_MATCH_REASONS,
        ("TravellerLookupResult", "redress"): MAX_REDRESS_MARKS,
    }


def _screening_bounds(limits: Limits) -> dict[tuple[str, str], int | Fraction]:
    """The list bounds under ``screenPassengers``. A screening's answer is bounded over all
    its travellers together (``backend.services.screening``: at most so many matches, tips,
    and tips listed under matches in all), so each traveller's lists are counted as their
    share of those totals, a fraction: the products over the path (travellers x matches per
    traveller x tips per match) come to the totals exactly."""
    travellers = max(1, limits.screening_max_travellers)
    matches = max(1, limits.screening_max_matches)

    def share(total: int, among: int) -> Fraction:
        return Fraction(max(0, total), among)

    return {
        **_list_bounds(limits),
        ("ScreenPassengersResult", "results"): travellers,
        ("TravellerLookupResult", "matches"): share(matches, travellers),
        ("TravellerLookupResult", "subjects"): share(matches, travellers),
        ("TravellerLookupResult", "identifiers"): share(matches, travellers),
        ("TravellerLookupResult", "tips"): share(limits.screening_max_tips, travellers),
        ("TravellerMatch", "tips"): share(limits.screening_max_match_tips, matches),
    }


#: Root fields under which lists have bounds of their own, and those bounds.
_ROOT_BOUNDS = {"screenPassengers": _screening_bounds}


class _Estimator:
    """Depth and cost of selection sets, memoised per (selection set, type, root field with
    bounds of its own) and computed without recursion, so that fragments spread hundreds deep
    or many times are cheap."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any],
        limits: Limits,
    ) -> None:
        self.schema = schema
        self.variables = variables
        self.limits = limits
        self.bounds = {"": _list_bounds(limits)}
        self.bounds.update({name: bounds(limits) for name, bounds in _ROOT_BOUNDS.items()})
        self.root_types = {
            root.name
            for root in (schema.query_type, schema.mutation_type, schema.subscription_type)
            if root is not None
        }
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.memo: dict[tuple[int, str, str], tuple[int | Fraction, int]] = {}

    def _children(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType, context: str
    ) -> list[tuple[SelectionSetNode, GraphQLNamedType, str, int | Fraction, str]]:
        """Each nested selection set with its type, how it combines (``field``, ``list``,
        ``connection`` or ``spread``), its multiplier, and the root field whose list bounds
        hold under it (``context``; "" for the usual ones)."""
        bounds = self.bounds[context]
        children = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                fields = getattr(parent, "fields", None)
                if name.startswith("__") or selection.selection_set is None or not fields:
                    continue  # introspection, leaves and unknown fields cost nothing
                definition = fields.get(name)
                if definition is None:
                    continue
                returned = _unwrapped(definition.type)
                named = get_named_type(returned)
                if not is_composite_type(named):
                    continue
                inner = context
                if parent.name in self.root_types and name in self.bounds:
                    inner = name
                if _is_connection(named):
                    size = _page_size(selection, self.variables, self.limits)
                    children.append((selection.selection_set, named, "connection", size, inner))
                elif is_list_type(returned) and not _is_connection(parent):
                    size = bounds.get((parent.name, name), self.limits.max_results)
                    children.append((selection.selection_set, named, "list", size, inner))
                else:  # one object, or the edges of a connection (counted by the connection)
                    children.append((selection.selection_set, named, "field", 1, inner))
            else:
                if isinstance(selection, FragmentSpreadNode):
                    fragment = self.fragments.get(selection.name.value)
                    if fragment is None:
                        continue
                    condition, nested = fragment.type_condition, fragment.selection_set
                else:
                    assert isinstance(selection, InlineFragmentNode)
                    condition, nested = selection.type_condition, selection.selection_set
                target = self.schema.get_type(condition.name.value) if condition else parent
                if target is not None and is_composite_type(target):
                    children.append((nested, target, "spread", 1, context))
        return children

    def measure(self, selection_set: SelectionSetNode, type_: GraphQLNamedType) -> tuple[int, int]:
        """(cost, depth) of ``selection_set`` on ``type_``, for one instance of the parent (a
        share of a screening's lists counts fractions of objects: the cost is rounded up)."""
        key = (id(selection_set), type_.name, "")
        pending: list[tuple[SelectionSetNode, GraphQLNamedType, str, bool]] = [
            (selection_set, type_, "", False)
        ]
        open_: set[tuple[int, str, str]] = set()
        while pending:
            current, current_type, context, expanded = pending.pop()
            current_key = (id(current), current_type.name, context)
            if current_key in self.memo:
                continue
            children = self._children(current, current_type, context)
            if not expanded:
                open_.add(current_key)
                pending.append((current, current_type, context, True))
                for nested, nested_type, _how, _size, inner in children:
                    nested_key = (id(nested), nested_type.name, inner)
                    if nested_key not in self.memo and nested_key not in open_:
                        pending.append((nested, nested_type, inner, False))
                continue
            cost: int | Fraction = 0
            depth = 0
            for nested, nested_type, how, size, inner in children:
                # a fragment cycle (refused by graphql-core's rules) counts nothing
                nested_cost, nested_depth = self.memo.get(
                    (id(nested), nested_type.name, inner), (0, 0)
                )
                if how == "spread":
                    cost += nested_cost
                    depth = max(depth, nested_depth)
                    continue
                depth = max(depth, 1 + nested_depth)
                if how == "connection":
                    cost += 1 + size * nested_cost
                elif how == "list":
                    cost += size * (1 + nested_cost)
                else:
                    cost += 1 + nested_cost
            self.memo[current_key] = (min(cost, COST_CEILING), depth)
            open_.discard(current_key)
        cost, depth = self.memo[key]
        return math.ceil(cost), depth


def _root_type(schema: GraphQLSchema, operation: OperationDefinitionNode) -> Any:
    return schema.get_root_type(operation.operation)


def estimate_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None = None,
    limits: Limits | None = None,
) -> int:
    """The estimated cost of ``operation``: how many objects its answer may hold.

    Every selected field that returns an object (a record, an edge, a connection, a payload)
    costs the number of times it may be resolved: once at the root, times the page size of
    every connection above it (``first`` or ``last``, or a full page of
    ``GRAPHQL_MAX_RESULTS`` when neither is given), times the bound of every plain list above
    it (``LOOKUP_MAX_TIPS`` for a traveller lookup's lists, under ``screenPassengers`` each
    traveller's share of the screening's totals, ``GRAPHQL_MAX_RESULTS`` for the others).
    Scalar fields and introspection cost nothing. ``tips(first: 50) { edges { node {
    source { name } } } }`` costs 1 + 50 x 3 = 151."""
    limits = limits or Limits.from_settings()
    root = _root_type(schema, operation)
    if root is None:
        return 0
    estimator = _Estimator(schema, document, variables or {}, limits)
    return estimator.measure(operation.selection_set, root)[0]


# --- arguments: pagination, cursors, regular expressions --------------------------------------


def _cursor_ok(value: str) -> bool:
    try:
        prefix, offset = from_base64(value)
        number = int(offset)
    except ValueError:
        return False
    return prefix == CURSOR_PREFIX and 0 <= number <= MAX_CURSOR_OFFSET


def _input_fields(
    value: ValueNode | None, type_: GraphQLInputType, variables: Mapping[str, Any]
) -> Iterator[tuple[str, tuple[str, ...], Any]]:
    """(input type name, path of field names, plain value) of every input object field in an
    argument value, literal or from the variables, walked without recursion."""
    stack: list[tuple[Any, Any, bool, tuple[str, ...]]] = [(value, type_, True, ())]
    while stack:
        current, current_type, is_ast, path = stack.pop()
        if is_ast and isinstance(current, VariableNode):
            current, is_ast = variables.get(current.name.value), False
        current_type = _unwrapped(current_type)
        if isinstance(current_type, GraphQLList):
            items = current.values if is_ast and isinstance(current, ListValueNode) else current
            if isinstance(items, list | tuple):
                stack.extend((item, current_type.of_type, is_ast, path) for item in items)
            continue
        if not isinstance(current_type, GraphQLInputObjectType):
            continue
        if is_ast and isinstance(current, ObjectValueNode):
            entries = [(f.name.value, f.value) for f in current.fields]
        elif not is_ast and isinstance(current, dict):
            entries = list(current.items())
        else:
            continue
        for name, item in entries:
            field = current_type.fields.get(name)
            if field is None:
                continue
            plain = _literal(item, variables) if is_ast else item
            yield current_type.name, (*path, name), plain
            stack.append((item, field.type, is_ast, (*path, name)))


def _years_out_of_range(value: Any) -> bool:
    """Whether a year lookup's value (a number, or a list of them) leaves the years 1 to 9999,
    for which Django cannot compute the bounds of the year."""
    values = value if isinstance(value, list) else [value]
    return any(
        isinstance(year, int) and not isinstance(year, bool) and not 1 <= year <= 9999
        for year in values
    )


def _regex_compiles(pattern: str) -> bool:
    """Whether PostgreSQL accepts ``pattern`` as a regular expression (asked in a savepoint,
    so that a refusal leaves the request's transaction usable)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT '' ~ %s", [pattern])
    except DatabaseError:
        return False
    return True


def _limits_rule(
    variables: Mapping[str, Any], limits: Limits, *, ask_database: bool
) -> type[ValidationRule]:
    """The rule, for one operation's ``variables``. ``ask_database``: whether regular
    expressions may be tried on PostgreSQL (not for a caller refused anyway)."""
    compiles: dict[str, bool] = {}

    def regex_ok(pattern: str) -> bool:
        if not ask_database:
            return True
        if pattern not in compiles:
            compiles[pattern] = _regex_compiles(pattern)
        return compiles[pattern]

    class OperationLimitsRule(ValidationRule):
        def enter_document(self, node: DocumentNode, *_args: Any) -> None:
            for error in _variable_problems(variables, limits):
                self.report_error(error)
            schema = self.context.schema
            for definition in node.definitions:
                if not isinstance(definition, OperationDefinitionNode):
                    continue
                root = _root_type(schema, definition)
                if root is None:
                    continue
                name = definition.name.value if definition.name else "anonymous"
                estimator = _Estimator(schema, node, variables, limits)
                cost, depth = estimator.measure(definition.selection_set, root)
                if depth > limits.max_depth:
                    self.report_error(
                        _error(
                            f"'{name}' exceeds maximum operation depth of {limits.max_depth}",
                            "QUERY_TOO_DEEP",
                            definition,
                            depth=depth,
                            maxDepth=limits.max_depth,
                        )
                    )
                if cost > limits.max_cost:
                    self.report_error(
                        _error(
                            f"'{name}' is too costly: it could return about {cost} objects, "
                            f"more than the {limits.max_cost} one operation may. Ask for "
                            "smaller pages (first/last) or fewer nested lists.",
                            "QUERY_TOO_COSTLY",
                            definition,
                            cost=cost,
                            maxCost=limits.max_cost,
                        )
                    )

        def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
            if problem := _text_problem(node.value, limits):
                self.report_error(_error(f"A string argument {problem[1]}.", problem[0], node))

        def enter_list_value(self, node: ListValueNode, *_args: Any) -> None:
            if problem := _list_problem(len(node.values), limits):
                self.report_error(_error(f"A list argument {problem[1]}.", problem[0], node))

        def enter_field(self, node: FieldNode, *_args: Any) -> None:
            definition = self.context.get_field_def()
            if definition is None or not node.arguments:
                return
            if _is_connection(get_named_type(definition.type)):
                self._check_page(node)
            for argument in node.arguments:
                declared = definition.args.get(argument.name.value)
                if declared is None:
                    continue
                for type_name, path, value in _input_fields(
                    argument.value, declared.type, variables
                ):
                    field = path[-1]
                    where = ".".join((argument.name.value, *path))
                    if (
                        type_name.endswith("FilterLookup")
                        and field in REGEX_LOOKUPS
                        and isinstance(value, str)
                        and _text_problem(value, limits) is None
                        and not regex_ok(value)
                    ):
                        self.report_error(
                            _error(
                                f"{where}: {value!r} is not a valid regular expression.",
                                "INVALID_INPUT",
                                argument,
                                field=where,
                            )
                        )
                    if YEAR_LOOKUPS & set(path[:-1]) and _years_out_of_range(value):
                        self.report_error(
                            _error(
                                f"{where}: a year must be from 1 to 9999.",
                                "INVALID_INPUT",
                                argument,
                                field=where,
                            )
                        )

        def _check_page(self, node: FieldNode) -> None:
            for name in ("first", "last"):
                value = _literal(_argument(node, name), variables)
                if isinstance(value, bool) or not isinstance(value, int):
                    continue  # absent, or of the wrong type (refused by the type checks)
                if value < 0:
                    self.report_error(
                        _error(
                            f"{name} must be 0 or more, got {value}.",
                            "INVALID_INPUT",
                            node,
                            field=name,
                        )
                    )
                elif value > limits.max_results:
                    self.report_error(
                        _error(
                            f"{name} may be at most {limits.max_results}, got {value}: one "
                            f"page holds at most {limits.max_results} items.",
                            "PAGINATION_LIMIT",
                            node,
                            field=name,
                            maxResults=limits.max_results,
                        )
                    )
            for name in ("after", "before"):
                value = _literal(_argument(node, name), variables)
                if isinstance(value, str) and not _cursor_ok(value):
                    self.report_error(
                        _error(
                            f"{name} is not a cursor of this list: pass a cursor from "
                            "pageInfo or an edge, unchanged.",
                            "INVALID_CURSOR",
                            node,
                            field=name,
                        )
                    )

    return OperationLimitsRule


class OperationLimits(SchemaExtension):
    """Refuse, before anything runs, operations over the depth, cost, page-size or input-size
    limits, or with malformed cursors or input text (see the module's description)."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        variables = ctx.variables if isinstance(ctx.variables, dict) else {}
        user = getattr(getattr(ctx.context, "request", None), "user", None)
        signed_in = bool(getattr(user, "is_authenticated", False))
        ctx.validation_rules = (
            *ctx.validation_rules,
            _limits_rule(variables, Limits.from_settings(), ask_database=signed_in),
        )
        yield
