"""CLI commands, one module each; every module exposes ``register(app)``."""

from __future__ import annotations

import importlib
import importlib.util

import typer

#: command modules, in help order; missing ones are skipped.
MODULES = ["listing", "noise", "train", "run", "sweep", "results", "reproduce"]


def register_all(app: typer.Typer) -> None:
    for name in MODULES:
        path = f"{__name__}.{name}"
        if importlib.util.find_spec(path) is None:
            continue
        importlib.import_module(path).register(app)
