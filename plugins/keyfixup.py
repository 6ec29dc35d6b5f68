"""What makes an event indexable that depends on the events before it.

Normalisation already makes each event indexable on its own (keys lowercased, dots
stripped and collapsed, empty keys renamed, long strings cut: see
`mozdef.core.normalize`). What it cannot see is the other events: an index maps each
dotted path once, as an object or as a scalar, and refuses an event that disagrees.
So this plugin remembers, per scope (the event's category, or its index), the first
shape seen at each path, and renames a later value of the other shape: a scalar where
an object was seen gets the suffix `_value` (`details.user` = "bob" after
`details.user` = {...} becomes `details.user_value`), an object where a scalar was seen
gets `_object`. A list counts as an object if it holds an object, as a scalar if it
holds a scalar; null and [] have no shape. Remembering stops at `max_tracked_paths`
paths: later paths are not checked.

Events from the /custom/ endpoint keep their keys' case through normalisation; this
plugin lowercases them, unless `lowercase_keys` is off.

A renamed key that collides with a key already in its object gets `_2`, `_3`..., as in
normalisation; keys that needed no renaming keep their names.
"""

from typing import Literal

from pydantic import Field

from mozdef.core import EventMeta, PluginSettings, hookimpl
from mozdef.core.normalize import put

# Set by `Normalizer.accept_custom` at the top level; a normalised event never has it
# there (unknown top-level keys go under details).
CUSTOM_MARK = "customendpoint"


class Shape:
    """The shape of a value, for the index: an object, or a scalar."""


SCALAR = Shape()
OBJECT = Shape()


class Node:
    """What was seen first under one path: the keys that held scalars, and the nodes
    of those that held objects. A key is in one or the other, never both."""

    __slots__ = ("objects", "scalars")

    def __init__(self) -> None:
        self.scalars: set[str] = set()
        self.objects: dict[str, Node] = {}


class KeyFixupSettings(PluginSettings):
    """The `[plugins.keyfixup]` table."""

    priority: int = 10
    lowercase_keys: bool = Field(
        True,
        description="Lowercase every key of events from the /custom/ endpoint, at every "
        "depth (normalised events have lowercase keys already).",
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


def category(event: dict) -> object:
    """The event's category, even before its keys are lowercased (custom events), else
    the custom endpoint's application name."""
    found = event.get("category")
    if found is None:
        found = next((v for k, v in event.items() if k.lower() == "category"), None)
    return found if found is not None else event.get(CUSTOM_MARK)


def rename(obj: dict, renames: list[tuple[str, str]]) -> None:
    """Move each (key, name) of `renames` to its new name, after the keys that stay."""
    moved = [(name, obj.pop(key)) for key, name in renames]
    for name, value in moved:
        put(obj, name, value)


def lowercase_keys(value: dict | list) -> bool:
    """Lowercase the keys of every object in `value` (itself included, at any depth),
    in place; True if any changed."""
    changed = False
    for item in value.values() if type(value) is dict else value:
        if type(item) is dict or type(item) is list:
            changed |= lowercase_keys(item)
    if type(value) is dict:
        renames = [(key, key.lower()) for key in value if key != key.lower()]
        if renames:
            rename(value, renames)
            changed = True
    return changed


def list_shape(items: list) -> Shape | None:
    """OBJECT if the list holds an object (at any depth of nested lists), else SCALAR if
    it holds anything but null, else None."""
    shape = None
    for item in items:
        kind = type(item)
        if kind is dict:
            return OBJECT
        if kind is list:
            inner = list_shape(item)
            if inner is OBJECT:
                return OBJECT
            shape = shape or inner
        elif item is not None:
            shape = SCALAR
    return shape


class ShapeTracker:
    """The first shape seen at each path, per scope, and the walk that checks an event
    against it."""

    def __init__(self, max_tracked_paths: int) -> None:
        self.roots: dict[str, Node] = {}  # scope -> its paths
        self.budget = max_tracked_paths
        self.tracked = 0
        self.renamed = 0  # values moved aside for a conflict

    def check(self, event: dict, scope: str) -> bool:
        """Rename the values of `event` whose shape conflicts; True if any was."""
        root = self.roots.get(scope)
        if root is None:
            if self.tracked >= self.budget:
                return False
            root = self.roots[scope] = Node()
            self.tracked += 1
        return self.walk(event, root)

    def walk(self, obj: dict, node: Node) -> bool:
        # A value of the shape seen before costs a set or dict lookup; a path seen for
        # the first time, or a conflict, goes on to `place`.
        changed = False
        renames = None
        scalars = node.scalars
        objects = node.objects
        for key, value in obj.items():
            kind = type(value)
            if kind is dict:
                child = objects.get(key)
                if child is not None:
                    changed |= self.walk(value, child)
                    continue
                shape = OBJECT
            elif kind is list:
                shape = list_shape(value) if value else None
                if shape is OBJECT:
                    child = objects.get(key)
                    if child is not None:
                        changed |= self.descend(value, child)
                        continue
                elif shape is None or key in scalars:
                    continue
            elif value is None or key in scalars:
                continue
            else:
                shape = SCALAR
            name, child = self.place(node, key, shape)
            if child is not None:
                changed |= self.walk(value, child) if kind is dict else self.descend(value, child)
            if name is not key:
                renames = renames or []
                renames.append((key, name))
        if renames:
            rename(obj, renames)
            return True
        return changed

    def descend(self, items: list, node: Node) -> bool:
        """Walk the objects of a list (and of lists inside it) against one node."""
        changed = False
        for item in items:
            if type(item) is dict:
                changed |= self.walk(item, node)
            elif type(item) is list:
                changed |= self.descend(item, node)
        return changed

    def place(self, node: Node, name: str, shape: Shape) -> tuple[str, Node | None]:
        """The name a value of `shape` keeps (renamed while the other shape holds it)
        and, for an object, the node of its children (None once the budget is spent)."""
        scalar = shape is SCALAR
        other = node.objects if scalar else node.scalars
        while name in other:
            name += "_value" if scalar else "_object"
            self.renamed += 1
        if scalar:
            if name not in node.scalars and self.tracked < self.budget:
                node.scalars.add(name)
                self.tracked += 1
            return name, None
        child = node.objects.get(name)
        if child is None and self.tracked < self.budget:
            child = node.objects[name] = Node()
            self.tracked += 1
        return name, child


class KeyFixup:
    """MozDef instantiates this once; `mozdef_startup` applies the settings."""

    def __init__(self) -> None:
        self.shapes: ShapeTracker | None = None
        self.lowercase = True
        self.scope_is_index = False

    @property
    def renamed(self) -> int:
        return self.shapes.renamed if self.shapes else 0

    @property
    def tracked(self) -> int:
        return self.shapes.tracked if self.shapes else 0

    @hookimpl
    def mozdef_plugin_settings(self) -> type[KeyFixupSettings]:
        return KeyFixupSettings

    @hookimpl
    def mozdef_startup(self, settings: KeyFixupSettings) -> None:
        self.shapes = (
            ShapeTracker(settings.max_tracked_paths) if settings.fix_shape_conflicts else None
        )
        self.lowercase = settings.lowercase_keys
        self.scope_is_index = settings.shape_scope == "index"

    @hookimpl
    def mozdef_event_registration(self, settings: KeyFixupSettings) -> str | bool:
        if settings.fix_shape_conflicts:
            return "*"
        return CUSTOM_MARK if settings.lowercase_keys else False

    @hookimpl
    def mozdef_process_event(self, event: dict, meta: EventMeta) -> dict | None:
        scope = meta.index if self.scope_is_index else category(event)
        changed = self.lowercase and CUSTOM_MARK in event and lowercase_keys(event)
        if self.shapes is not None and self.shapes.check(event, str(scope)):
            changed = True
        return event if changed else None
