"""Keys and values an index would refuse, fixed in one walk over the event.

Runs first and on every event, so each key costs a dict lookup or two: fixed key names
are cached, and the event is changed in place only where something is wrong.

- keys lowercased (events from the /custom/ endpoint skip normalisation);
- dots stripped from either end of a key and runs of dots inside it collapsed, since
  Elasticsearch reads dots as nesting;
- empty (or blank) keys renamed `empty_key_name`;
- strings longer than `max_string_length` cut there and " ..." appended;
- shape conflicts resolved: per scope (the event's category, or its index), the first
  shape seen at a dotted path (object, or scalar) is remembered, and a later value of the
  other shape is renamed: a scalar where an object was seen gets the suffix `_value`
  (`details.user` = "bob" after `details.user` = {...} becomes `details.user_value`), an
  object where a scalar was seen gets `_object`. A list counts as an object if it holds
  an object, as a scalar if it holds a scalar; null and [] have no shape. Remembering
  stops at `max_tracked_paths` paths: later paths are not checked.

A fixed key that collides with a key already in its object gets `_2`, `_3`..., as in
normalisation.
"""

import re
import sys
from collections.abc import Callable
from typing import Literal

from pydantic import Field

from mozdef.core import EventMeta, PluginSettings, hookimpl
from mozdef.core.normalize import free_name

TRUNCATION_MARK = " ..."
KEY_CACHE_SIZE = 65536
DOT_RUNS = re.compile(r"\.{2,}")


class Shape:
    """What a path held first; the tracking tree stores SCALAR at scalar paths and a
    child dict at object paths."""


SCALAR = Shape()
OBJECT = Shape()
UNSEEN = object()


class KeyFixupSettings(PluginSettings):
    """The `[plugins.keyfixup]` table."""

    priority: int = 10
    lowercase_keys: bool = Field(True, description="Lowercase every key, at every depth.")
    strip_dots: bool = Field(
        True,
        description="Strip dots from both ends of keys and collapse runs of dots inside them.",
    )
    rename_empty_keys: bool = Field(True, description="Rename empty or blank keys.")
    empty_key_name: str = Field("_empty", min_length=1, description="New name of empty keys.")
    max_string_length: int = Field(
        3000,
        ge=0,
        description='Cut longer strings to this many characters and append " ..."; 0: never.',
    )
    fix_shape_conflicts: bool = Field(
        True,
        description="Rename a value whose shape (object or scalar) differs from the first "
        "one seen at its path in the same scope.",
    )
    shape_scope: Literal["category", "index"] = Field(
        "category",
        description="Where shapes must agree: per event `category`, or per destination "
        "index (choose this when categories share an index).",
    )
    max_tracked_paths: int = Field(
        50_000, ge=1, description="Most paths remembered for shape checks, over all scopes."
    )


def key_fixer(settings: KeyFixupSettings) -> Callable[[str], str]:
    """The fixed form of one key, under the fixes switched on."""

    def fix(key: str) -> str:
        if settings.lowercase_keys:
            key = key.lower()
        if settings.strip_dots and "." in key:
            key = DOT_RUNS.sub(".", key).strip(".")
        if settings.rename_empty_keys and not key.strip():
            key = settings.empty_key_name
        return key

    return fix


def category(event: dict) -> object:
    """The event's category, even before its keys are lowercased (custom events), else
    the custom endpoint's application name."""
    found = event.get("category")
    if found is None:
        found = next((v for k, v in event.items() if k.lower() == "category"), None)
    return found if found is not None else event.get("customendpoint")


class KeyFixup:
    """MozDef instantiates this once; `mozdef_startup` builds the walk."""

    def __init__(self) -> None:
        self.shapes: dict[str, dict] = {}  # scope -> tracking tree
        self.tracked = 0
        self.renamed = 0  # values moved aside for a shape conflict
        self.fix: Callable[[dict, str], bool] | None = None
        self.scope_is_index = False

    @hookimpl
    def mozdef_plugin_settings(self) -> type[KeyFixupSettings]:
        return KeyFixupSettings

    @hookimpl
    def mozdef_startup(self, settings: KeyFixupSettings) -> None:
        self.fix = self.build(settings)
        self.scope_is_index = settings.shape_scope == "index"

    @hookimpl
    def mozdef_event_registration(self) -> str:
        return "*"

    @hookimpl
    def mozdef_process_event(self, event: dict, meta: EventMeta) -> dict | None:
        scope = meta.index if self.scope_is_index else category(event)
        return event if self.fix(event, str(scope)) else None

    def build(self, settings: KeyFixupSettings) -> Callable[[dict, str], bool]:
        """The walk, as closures over everything it needs: attribute lookups cost."""
        fix_key = key_fixer(settings)
        keys: dict[str, str | None] = {}  # key -> its fixed form, None if already fine
        limit = settings.max_string_length or sys.maxsize
        budget = settings.max_tracked_paths
        tracking = settings.fix_shape_conflicts
        shapes = self.shapes
        changed = False

        def fixed_name(key: str) -> str | None:
            if len(keys) >= KEY_CACHE_SIZE:
                keys.clear()
            fixed = fix_key(key)
            keys[key] = None if fixed == key else fixed
            return keys[key]

        def cut(text: str) -> str:
            nonlocal changed
            changed = True
            return text[:limit] + TRUNCATION_MARK

        def list_shape(items: list) -> Shape | None:
            """The shape of a list (see the module docstring); long strings cut on the way."""
            shape = None
            for index, item in enumerate(items):
                kind = type(item)
                if kind is str:
                    if len(item) > limit:
                        items[index] = cut(item)
                    shape = shape or SCALAR
                elif kind is dict:
                    shape = OBJECT
                elif kind is list:
                    inner = list_shape(item)
                    if inner is OBJECT or shape is None:
                        shape = inner
                elif item is not None:
                    shape = shape or SCALAR
            return shape

        def place(node: dict, name: str, shape: Shape) -> tuple[str, dict | None]:
            """The name the value keeps (renamed on a conflict) and, for an object, the
            tracking node of its children (None once the budget is spent)."""
            nonlocal changed
            seen = node.get(name)
            while seen is not None and (seen is SCALAR) != (shape is SCALAR):
                name += "_value" if shape is SCALAR else "_object"
                seen = node.get(name)
                changed = True
                self.renamed += 1
            if seen is None and self.tracked < budget:
                seen = node[name] = SCALAR if shape is SCALAR else {}
                self.tracked += 1
            return name, (seen if type(seen) is dict else None)

        def walk(obj: dict, node: dict | None) -> None:
            # The common cases (a known, fine key whose value has the shape seen before)
            # take one lookup in each cache; anything else goes to the helpers.
            renames = None
            for key, value in obj.items():
                name = keys.get(key, UNSEEN)
                if name is None:
                    name = key
                elif name is UNSEEN:
                    name = fixed_name(key) or key
                kind = type(value)
                if kind is str:
                    if len(value) > limit:
                        obj[key] = cut(value)
                    if node is not None and node.get(name) is not SCALAR:
                        name = place(node, name, SCALAR)[0]
                elif kind is dict:
                    child = None
                    if node is not None:
                        child = node.get(name)
                        if type(child) is not dict:
                            name, child = place(node, name, OBJECT)
                    walk(value, child)
                elif kind is list:
                    shape = list_shape(value)
                    child = None
                    if node is not None and shape is not None:
                        name, child = place(node, name, shape)
                    if shape is OBJECT:
                        descend(value, child)
                elif value is not None and node is not None and node.get(name) is not SCALAR:
                    name = place(node, name, SCALAR)[0]
                if name is not key:
                    renames = renames or []
                    renames.append((key, name))
            if renames:
                rename(obj, renames)

        def descend(items: list, node: dict | None) -> None:
            for item in items:
                if type(item) is dict:
                    walk(item, node)
                elif type(item) is list:
                    descend(item, node)

        def rename(obj: dict, renames: list[tuple[str, str]]) -> None:
            nonlocal changed
            changed = True
            moved = [(name, obj.pop(key)) for key, name in renames]
            for name, value in moved:
                obj[free_name(obj, name) if name in obj else name] = value

        def fix(event: dict, scope: str) -> bool:
            """Fix `event` in place; True if anything changed."""
            nonlocal changed
            changed = False
            root = None
            if tracking:
                root = shapes.get(scope)
                if root is None and self.tracked < budget:
                    root = shapes[scope] = {}
                    self.tracked += 1
            walk(event, root)
            return changed

        return fix
