"""Which events a plugin wants, compiled once at start-up into a cheap test.

A plugin registers with one of:

- ``"*"``: every event;
- ``False``: no events at all (e.g. a plugin that has nothing to do as configured),
  which leaves the plugin out of the chain;
- a dotted field path, ``"details.sourceipaddress"``: events where that field is present
  and not null;
- a mapping of dotted paths to a value or a list of values,
  ``{"processname": ["sshd", "su"]}``: events where the field equals one of them;
- a list of any of the above: events that match at least one.

Each term becomes a closure that does a handful of dict lookups on the event as it is
when the plugin's turn comes; nothing is flattened.
"""

from collections.abc import Callable, Mapping
from typing import Any

Matcher = Callable[[dict], bool]
MISSING = object()


class RegistrationError(ValueError):
    """A plugin's registration is not one of the accepted forms."""


def everything(event: dict) -> bool:
    return True


def nothing(event: dict) -> bool:
    return False


def compile_registration(spec: Any) -> Matcher:
    """Turn a plugin's registration into a predicate over events."""
    if spec is False:
        return nothing
    if spec is None:
        raise RegistrationError("the registration hook returned None; return '*' for every event")
    if spec == "*":
        return everything
    terms = spec if isinstance(spec, list | tuple) else [spec]
    matchers = [matcher for term in terms for matcher in compile_term(term)]
    if not matchers:
        raise RegistrationError("an empty registration matches nothing; use '*' for every event")
    if len(matchers) == 1:
        return matchers[0]

    def any_matches(event: dict) -> bool:
        # A plain loop: a generator passed to any() costs more on the per-event path.
        for matcher in matchers:  # noqa: SIM110
            if matcher(event):
                return True
        return False

    return any_matches


def compile_term(term: Any) -> list[Matcher]:
    if term == "*":
        return [everything]
    if isinstance(term, str):
        return [field_present(term)]
    if isinstance(term, Mapping):
        return [field_in(path, values) for path, values in term.items()]
    raise RegistrationError(
        f"cannot register for {term!r}: expected '*', a dotted field path or a mapping of "
        "field paths to values"
    )


def split_path(path: str) -> tuple[str, ...]:
    parts = tuple(path.lower().split("."))
    if not all(parts):
        raise RegistrationError(f"{path!r} is not a dotted field path")
    return parts


def field_present(path: str) -> Matcher:
    return at_path(split_path(path), present)


def present(value: Any) -> bool:
    return value is not None and value is not MISSING


def field_in(path: str, values: Any) -> Matcher:
    wanted = frozenset(values) if isinstance(values, list | tuple | set | frozenset) else {values}

    def is_wanted(value: Any) -> bool:
        try:
            return value in wanted  # MISSING, for an absent field, is never wanted
        except TypeError:  # an unhashable value (an object or a list) equals nothing
            return False

    return at_path(split_path(path), is_wanted)


def at_path(parts: tuple[str, ...], function: Callable[[Any], Any]) -> Callable[[dict], Any]:
    """`function` applied to the value at a dotted path (MISSING when absent); paths of
    one or two parts, by far the commonest, are read without a loop."""
    if len(parts) == 1:
        (key,) = parts
        return lambda event: function(event.get(key, MISSING))
    if len(parts) == 2:
        outer, inner = parts

        def nested(event: dict) -> Any:
            parent = event.get(outer)
            return function(parent.get(inner, MISSING) if type(parent) is dict else MISSING)

        return nested
    return lambda event: function(lookup(event, parts))


def lookup(event: dict, parts: tuple[str, ...]) -> Any:
    """The value at a dotted path, or MISSING."""
    value: Any = event
    for part in parts:
        if not isinstance(value, dict):
            return MISSING
        value = value.get(part, MISSING)
        if value is MISSING:
            return MISSING
    return value
