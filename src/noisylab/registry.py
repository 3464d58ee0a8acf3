"""A small name → object registry used for losses, optimisers, datasets, models and studies."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class _Lazy:
    """A registered module path, imported on first :meth:`Registry.get`."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path

    def load(self) -> Any:
        module, _, attr = self.path.partition(":")
        obj: Any = importlib.import_module(module)
        for part in attr.split(".") if attr else []:
            obj = getattr(obj, part)
        return obj


class Registry(Generic[T]):
    """Maps names to objects, with free-form metadata for listings.

    Parameters
    ----------
    kind : str
        What the registry holds, for error messages ("loss", "study", ...).
    ordered : bool
        List names in registration order (default: sorted).

    Examples
    --------
    >>> reg: Registry[int] = Registry("number")
    >>> _ = reg.register("one", 1, doc="the first")
    >>> reg.get("one")
    1
    >>> mods: Registry[object] = Registry("module", ordered=True)
    >>> mods.register_lazy("json", "json", doc="imported on first get")
    >>> mods.register_lazy("dumps", "json:dumps")
    >>> mods.names(), mods.get("dumps")([1])
    (['json', 'dumps'], '[1]')
    """

    def __init__(self, kind: str, *, ordered: bool = False) -> None:
        self.kind = kind
        self.ordered = ordered
        self._items: dict[str, Any] = {}
        self._meta: dict[str, dict[str, Any]] = {}
        self._paths: dict[str, str] = {}

    def register(self, name: str, obj: T | None = None, **meta: Any) -> Any:
        """Register ``obj`` under ``name``; without ``obj`` act as a decorator."""

        def _add(o: T) -> T:
            if name in self._items and self._items[name] is not o:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = o
            self._meta[name] = dict(meta)
            return o

        if obj is None:
            return _add
        return _add(obj)

    def register_lazy(self, name: str, path: str, **meta: Any) -> None:
        """Register ``"package.module"`` or ``"package.module:attr"``, imported on first get.

        Registering the same path again is a no-op; another object or path under a taken
        name raises ``ValueError``.
        """
        if not isinstance(path, str) or not path or path.startswith(":"):
            raise ValueError(
                f"{self.kind} {name!r}: expected 'module' or 'module:attr', got {path!r}"
            )
        if name in self._items:
            if self._paths.get(name) == path:
                self._meta[name] = dict(meta)
                return
            raise ValueError(
                f"{self.kind} {name!r} is already registered"
                + (f" as {self._paths[name]!r}" if name in self._paths else "")
            )
        self._items[name] = _Lazy(path)
        self._paths[name] = path
        self._meta[name] = dict(meta)

    def get(self, name: str) -> T:
        """Return the object registered as ``name``; unknown names list the known ones."""
        try:
            obj = self._items[name]
        except KeyError:
            known = ", ".join(self.names()) or "(none)"
            raise ValueError(f"unknown {self.kind} {name!r}; known: {known}") from None
        if isinstance(obj, _Lazy):
            obj = obj.load()
            self._items[name] = obj
        return obj  # type: ignore[no-any-return]

    def path(self, name: str) -> str | None:
        """The import path ``name`` was registered with lazily, else None."""
        self.meta(name)
        return self._paths.get(name)

    def meta(self, name: str) -> dict[str, Any]:
        if name not in self._items:
            self.get(name)  # raises the listing error
        return self._meta[name]

    def names(self) -> list[str]:
        return list(self._items) if self.ordered else sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)


def lazy(factory: Callable[[], T]) -> Callable[[], T]:
    """Memoise a zero-argument factory (used for optional, slow imports)."""
    cache: list[T] = []

    def get() -> T:
        if not cache:
            cache.append(factory())
        return cache[0]

    return get
