"""What the sweep needs from a study, and the version that keys its stored results.

The sweep sits below the studies: it never looks a study up by name. Callers hand it the
study itself: any object with a ``NAME`` and a module-level ``run_unit(unit) -> dict``
(a study module satisfies this), optionally a ``version`` string. Without one, the version
is derived from the study's code and config schema (:func:`study_version`), so a stored
result is reused only by the code that produced it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Study(Protocol):
    """The part of a study the sweep uses: its name and the function that runs one unit."""

    NAME: str

    def run_unit(self, unit: dict[str, Any]) -> dict[str, Any]: ...


def study_name(study: Any) -> str:
    """``study.NAME``, checked.

    Raises
    ------
    TypeError
        If ``study`` is a string or lacks ``NAME``/``run_unit`` (the sweep takes the study,
        not its name: resolve names with :func:`noisylab.studies.get`).
    """
    if isinstance(study, str):
        raise TypeError(
            f"the sweep takes a study (module or object with NAME and run_unit), not the name "
            f"{study!r}; resolve names with noisylab.studies.get"
        )
    name = getattr(study, "NAME", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"a study needs a non-empty string NAME, {study!r} has {name!r}")
    if not callable(getattr(study, "run_unit", None)):
        raise TypeError(f"study {name!r} has no callable run_unit(unit) -> dict")
    return name


def _source_files(module: ModuleType, analysis: Iterable[str] = ()) -> list[Path]:
    """The module's ``.py`` file, or every ``.py`` file under a package's directory except
    the top-level modules named in ``analysis`` (code that reads results, never makes them)."""
    file = getattr(module, "__file__", None)
    if not file:
        return []
    path = Path(file)
    if path.name == "__init__.py":
        skip = {path.parent / f"{name}.py" for name in analysis}
        return sorted(
            p for p in path.parent.rglob("*.py") if "__pycache__" not in p.parts and p not in skip
        )
    return [path]


def _analysis_modules(study: Any, module: ModuleType | None) -> tuple[str, ...]:
    """The study's ``ANALYSIS`` names, checked: top-level modules of its package."""
    names = tuple(getattr(study, "ANALYSIS", ()) or ())
    if not names:
        return ()
    file = getattr(module, "__file__", None) if module is not None else None
    if not file or Path(file).name != "__init__.py":
        raise ValueError(f"ANALYSIS {names} needs a study package, not the module {file!r}")
    for name in names:
        if not (Path(file).parent / f"{name}.py").is_file():
            raise ValueError(
                f"ANALYSIS names {name!r}, which is not a module of {Path(file).parent}"
            )
    return names


def _file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (read every time: a cache keyed by mtime could miss an edit)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _module_of(study: Any) -> ModuleType | None:
    if isinstance(study, ModuleType):
        return study
    return inspect.getmodule(study.run_unit)


def _extra_modules(names: Iterable[str]) -> list[Path]:
    files: list[Path] = []
    for name in names:
        mod = sys.modules.get(name)
        if mod is not None:
            files += _source_files(mod)
            continue
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin or not os.path.isfile(spec.origin):
            raise ValueError(f"SOURCES names module {name!r}, which has no source file")
        origin = Path(spec.origin)
        files += (
            sorted(p for p in origin.parent.rglob("*.py") if "__pycache__" not in p.parts)
            if origin.name == "__init__.py"
            else [origin]
        )
    return files


def _schema_text(config: Any) -> str:
    """The config class's JSON schema as sorted JSON (fields, types, defaults); for a field
    type without a JSON schema, each field's name, annotation and default instead."""
    try:
        return json.dumps(config.model_json_schema(), sort_keys=True, default=str)
    except Exception:  # e.g. PydanticInvalidForJsonSchema for an arbitrary field type
        fields = getattr(config, "model_fields", {})
        return repr(sorted((n, repr(f.annotation), repr(f.default)) for n, f in fields.items()))


def study_version(study: Any) -> str:
    """A 16-hex-digit version of a study's code, config schema and declared result format.

    The SHA-256 over: the source bytes of the module holding the study (every ``.py`` file
    of its package when the study is a package, except the modules it names in ``ANALYSIS``:
    code that only reads stored results, such as claims and figures, so editing it re-analyses
    without re-running), of any modules it names in ``SOURCES``
    (library code whose change alters its results), the JSON schema of its ``Config``
    (fields, types, defaults) and its ``RESULT_VERSION`` when declared. An explicit string
    attribute ``version`` on the study replaces all of this.

    Examples
    --------
    >>> import types
    >>> s = types.SimpleNamespace(NAME="demo", run_unit=len, version="v1")
    >>> study_version(s)
    'v1'
    """
    explicit = getattr(study, "version", None)
    if isinstance(explicit, str):
        return explicit
    h = hashlib.sha256()
    module = _module_of(study)
    analysis = _analysis_modules(study, module)
    files = _source_files(module, analysis) if module is not None else []
    root = files[0].parent if files else None
    for path in files + _extra_modules(getattr(study, "SOURCES", ())):
        rel = (
            path.relative_to(root) if root is not None and path.is_relative_to(root) else path.name
        )
        h.update(f"file {rel}\n".encode())
        h.update(_file_digest(path).encode())
    config = getattr(study, "Config", None)
    if config is not None and hasattr(config, "model_json_schema"):
        h.update(b"schema\n" + _schema_text(config).encode())
    declared = getattr(study, "RESULT_VERSION", None)
    if declared is not None:
        h.update(b"result_version\n" + json.dumps(declared, default=str).encode())
    return h.hexdigest()[:16]


def content_id(name: str, version: str, unit: dict[str, Any]) -> str:
    """First 16 hex digits of the SHA-256 of ``{"study", "unit", "version"}`` as sorted JSON.

    Examples
    --------
    >>> content_id("demo", "v1", {"a": 1, "b": 2}) == content_id("demo", "v1", {"b": 2, "a": 1})
    True
    >>> content_id("demo", "v1", {"a": 1}) != content_id("demo", "v2", {"a": 1})
    True
    """
    payload = {"study": name, "unit": unit, "version": version}
    blob = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def run_ids(study: Any, units: Iterable[dict[str, Any]]) -> list[str]:
    """The run ids of ``units`` of ``study`` (its version computed once)."""
    name, version = study_name(study), study_version(study)
    return [content_id(name, version, dict(u)) for u in units]


def run_id(study: Any, unit: dict[str, Any]) -> str:
    """A stable content hash of a study's name, its version (:func:`study_version`) and a unit.

    Key order in ``unit`` does not matter; any change of the study's code, config schema or
    ``RESULT_VERSION`` gives new ids, so results of older code are recomputed, never reused.

    Examples
    --------
    >>> import types
    >>> s = types.SimpleNamespace(NAME="demo", run_unit=len, version="v1")
    >>> run_id(s, {"a": 1, "b": 2}) == run_id(s, {"b": 2, "a": 1})
    True
    >>> len(run_id(s, {"a": 1}))
    16
    """
    return run_ids(study, [unit])[0]


def function_ref(fn: Callable[..., Any]) -> tuple[str, str]:
    """``(module, qualname)`` of a module-level function, checked to resolve back to ``fn``.

    Worker processes and Ray tasks receive this reference and import the function, so any
    importable study works in them without being registered anywhere.

    Raises
    ------
    ValueError
        For lambdas, nested functions or functions whose module cannot be imported by name.
    """
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        raise ValueError(
            f"run_unit {fn!r} must be a module-level function to run in worker processes"
        )
    try:
        found = resolve_ref((module, qualname))
    except (ImportError, AttributeError) as exc:
        raise ValueError(
            f"run_unit {module}.{qualname} cannot be imported by name ({exc}); workers "
            "need an importable module"
        ) from None
    if found is not fn and getattr(found, "__wrapped__", None) is not fn:
        raise ValueError(f"{module}.{qualname} does not resolve to the given run_unit")
    return module, qualname


def resolve_ref(ref: tuple[str, str]) -> Callable[..., Any]:
    """Import the function named by :func:`function_ref`."""
    module, qualname = ref
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj  # type: ignore[no-any-return]
