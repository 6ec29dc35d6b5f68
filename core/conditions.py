"""Conditions on event fields, written in mozdef.toml and compiled once into closures.

Rule-driven plugins (rule_tags, drop_rules) share this language. A rule's ``match``
table maps dotted field paths, each one quoted key, to a condition; the rule matches
an event when every condition holds:

- a string, number or boolean: the field equals it (a string never equals a number,
  nor a boolean a number; 22 equals 22.0);
- a list of them: the field equals one of them (the same as ``{ in = [...] }``);
- a table of operators, all of which must hold: ``exists = true|false``,
  ``regex = "..."`` (searched, so anchor it with ``^`` if needed), ``prefix``,
  ``suffix``, ``contains`` (a string or a list: any of them), ``cidr`` (a CIDR or a
  list), ``gt``/``ge``/``lt``/``le`` (a number; numeric strings compare as numbers),
  ``in = [...]`` and ``not = <condition>``.

A field that is absent or null satisfies nothing but ``{ exists = false }`` and
``not``. When a field holds a list, a condition holds if it holds for any element, so
``tags = "sshd"`` asks whether "sshd" is among the tags and ``not`` means: for none.
A mistake in a rule raises `ConditionError` naming the rule and the field path.
"""

import difflib
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from mozdef.core.addresses import AddressMap
from mozdef.core.registration import MISSING, Matcher, at_path, split_path
from mozdef.core.schema import Section

Test = Callable[[Any], bool]
SCALARS = (str, int, float, bool)


class ConditionError(ValueError):
    """A condition that cannot be compiled; the message says which rule and field."""


def compile_match(match: Mapping[str, Any], rule: str) -> Matcher:
    """A predicate over events that holds when every condition of `match` holds."""
    if not isinstance(match, Mapping) or not match:
        raise ConditionError(f"rule {rule!r}: match must be a non-empty table of field conditions")
    checks = []
    for path, spec in match.items():
        try:
            checks.append(at_path(split_path(path), compile_condition(spec)))
        except ValueError as exc:
            raise ConditionError(f"rule {rule!r}: {path}: {exc}") from None
    if len(checks) == 1:
        return checks[0]

    def every(event: dict) -> bool:
        for check in checks:  # noqa: SIM110 - cheaper than all() over a generator
            if not check(event):
                return False
        return True

    return every


def compile_condition(spec: Any) -> Test:
    """A predicate over one field's value: a literal, a list of literals or operators."""
    if isinstance(spec, Mapping):
        if not spec:
            raise ConditionError("an empty table is not a condition")
        tests = [compile_operator(name, operand) for name, operand in spec.items()]
        if len(tests) == 1:
            return tests[0]
        return lambda value: all(test(value) for test in tests)
    if isinstance(spec, list):
        return one_of(spec)
    if isinstance(spec, SCALARS):
        wanted = literal(spec)
        return each(lambda value: literal(value) == wanted)
    raise ConditionError(f"{spec!r} is not a condition")


def compile_operator(name: str, operand: Any) -> Test:
    factory = OPERATORS.get(name)
    if factory is None:
        close = difflib.get_close_matches(name, OPERATORS, n=1)
        hint = (
            f"did you mean {close[0]!r}?"
            if close
            else 'a field path must be one quoted key, e.g. "details.useragent" = ...'
        )
        known = ", ".join(sorted(OPERATORS))
        raise ConditionError(f"unknown operator {name!r}; {hint} (operators: {known})")
    try:
        return factory(operand)
    except ConditionError as exc:
        raise ConditionError(f"{name}: {exc}") from None


def each(test: Test) -> Test:
    """Extend a test on one value to lists: true if any element passes."""

    def holds(value: Any) -> bool:
        if type(value) is list:
            return any(test(item) for item in value)
        return test(value)

    return holds


def one_of(values: Any) -> Test:
    if not isinstance(values, list) or not values:
        raise ConditionError("expected a non-empty list of values")
    if not all(isinstance(value, SCALARS) for value in values):
        raise ConditionError("a list of values may hold only strings, numbers and booleans")
    wanted = frozenset(literal(value) for value in values)
    return each(lambda value: literal(value) in wanted)


def literal(value: Any) -> Any:
    """A value as equality sees it: Python's True == 1, but a rule's `true` is no number;
    objects and lists (unhashable) equal nothing."""
    kind = type(value)
    if kind is bool:
        return (bool, value)
    return value if kind is str or kind is int or kind is float else MISSING


def exists(operand: Any) -> Test:
    if not isinstance(operand, bool):
        raise ConditionError("expected true or false")
    return lambda value: (value is not MISSING and value is not None) is operand


def regex(operand: Any) -> Test:
    if not isinstance(operand, str):
        raise ConditionError("expected a regular expression as a string")
    try:
        search = re.compile(operand).search
    except re.error as exc:
        raise ConditionError(f"invalid regular expression {operand!r}: {exc}") from None
    return each(lambda value: type(value) is str and search(value) is not None)


def strings(operand: Any) -> tuple[str, ...]:
    """A string or a non-empty list of strings, as a tuple."""
    items = [operand] if isinstance(operand, str) else operand
    if not isinstance(items, list) or not items or not all(isinstance(s, str) for s in items):
        raise ConditionError("expected a string or a non-empty list of strings")
    return tuple(items)


def prefix(operand: Any) -> Test:
    prefixes = strings(operand)
    return each(lambda value: type(value) is str and value.startswith(prefixes))


def suffix(operand: Any) -> Test:
    suffixes = strings(operand)
    return each(lambda value: type(value) is str and value.endswith(suffixes))


def contains(operand: Any) -> Test:
    needles = strings(operand)
    return each(lambda value: type(value) is str and any(n in value for n in needles))


def cidr(operand: Any) -> Test:
    try:
        networks = AddressMap((text, True) for text in strings(operand))
    except ValueError as exc:
        raise ConditionError(str(exc)) from None
    return each(lambda value: type(value) is str and networks.get(value) is not None)


def as_number(value: Any) -> float | int | None:
    """Numbers as they are, numeric strings converted; anything else (booleans too) None."""
    kind = type(value)
    if kind is int or kind is float:
        return value
    if kind is str:
        try:
            return float(value)
        except ValueError:
            return None
    return None


def comparison(compare: Callable[[Any, Any], bool]) -> Callable[[Any], Test]:
    def build(operand: Any) -> Test:
        if isinstance(operand, bool) or not isinstance(operand, int | float):
            raise ConditionError("expected a number")

        def holds(value: Any) -> bool:
            number = as_number(value)
            return number is not None and compare(number, operand)

        return each(holds)

    return build


def negation(operand: Any) -> Test:
    inner = compile_condition(operand)
    return lambda value: not inner(value)


OPERATORS: dict[str, Callable[[Any], Test]] = {
    "exists": exists,
    "regex": regex,
    "prefix": prefix,
    "suffix": suffix,
    "contains": contains,
    "cidr": cidr,
    "gt": comparison(operator.gt),
    "ge": comparison(operator.ge),
    "lt": comparison(operator.lt),
    "le": comparison(operator.le),
    "in": one_of,
    "not": negation,
}


class MatchRule(Section):
    """One entry of a plugin's ``rules`` list: a name and the events it selects."""

    name: str = Field(min_length=1, description="Names the rule in counters and errors.")
    match: dict[str, Any] = Field(
        description='Quoted dotted field path = condition, e.g. "details.useragent" = '
        '{ prefix = "ELB-HealthChecker" }; every condition must hold.'
    )

    @field_validator("match")
    @classmethod
    def must_compile(cls, match: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        compile_match(match, info.data.get("name", "?"))
        return match

    def matcher(self) -> Matcher:
        return compile_match(self.match, self.name)


def unique_names(items: list) -> list:
    """Validator for lists of named entries (rules, networks): names identify counters,
    results and errors, so they must not repeat."""
    names = [item.name for item in items]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"names must be unique; repeated: {', '.join(repeated)}")
    return items
