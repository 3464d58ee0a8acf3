"""The ``noisylab`` command line: list, noise, train, run, sweep, results, reproduce, report.

Bad input prints one red line and exits with code 2; no tracebacks (set
``NOISYLAB_DEBUG=1`` to see them). Plugin studies are named in
``NOISYLAB_EXTRA_STUDIES="name=module.path,..."``: the CLI registers them (unlisted) so that
``noisylab run NAME`` and sweep files find them; the sweep itself never looks names up.
"""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console

from noisylab import commands
from noisylab.runtime import tune_allocator

app = typer.Typer(
    name="noisylab",
    help="Learning with noisy labels: simulate noise, train robustly, reproduce five papers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)
commands.register_all(app)


def _one_line(exc: BaseException) -> str:
    try:
        from pydantic import ValidationError
    except ImportError:  # pragma: no cover
        ValidationError = ()  # type: ignore[assignment,misc]
    if isinstance(exc, ValidationError):
        parts = []
        for e in exc.errors():
            loc = ".".join(str(x) for x in e.get("loc", ())) or "config"
            msg = str(e.get("msg", "")).removeprefix("Value error, ")  # our checks' own words
            parts.append(f"{loc}: {msg} (got {e.get('input')!r})")
        return "; ".join(parts)
    return " ".join(str(exc).split()) or type(exc).__name__


def register_extra_studies(value: str | None = None) -> list[str]:
    """Register the studies named in ``NOISYLAB_EXTRA_STUDIES`` (or ``value``), unlisted.

    Returns the registered names.

    Raises
    ------
    ValueError
        For an item that is not ``name=module.path`` or a name taken by another module.
    """
    from noisylab import studies

    raw = os.environ.get("NOISYLAB_EXTRA_STUDIES", "") if value is None else value
    names = []
    for item in filter(None, (i.strip() for i in raw.split(","))):
        name, sep, module = (p.strip() for p in item.partition("="))
        if not sep or not name or not module:
            raise ValueError(f"NOISYLAB_EXTRA_STUDIES expects name=module.path items, got {item!r}")
        studies.register(name, module, listed=False)
        names.append(name)
    return names


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning user errors into one line and exit code 2."""
    debug = bool(os.environ.get("NOISYLAB_DEBUG"))
    tune_allocator()  # with --jobs 1 the training runs in this very process
    try:
        register_extra_studies()
        app(args=argv)  # standalone: usage errors print and exit 2 inside
    except SystemExit:
        raise
    except (ValueError, TypeError, FileNotFoundError, ImportError, KeyError) as exc:
        if debug:
            raise
        err_console.print(f"[red]error:[/red] {_one_line(exc)}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("[red]interrupted[/red]")
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        from noisylab.sweep import SweepError

        if isinstance(exc, SweepError):  # runs failed; each failure is in the store
            err_console.print(f"[red]error:[/red] {_one_line(exc)}", highlight=False)
            sys.exit(1)
        err_console.print(
            f"[red]internal error:[/red] {type(exc).__name__}: {_one_line(exc)} "
            "(rerun with NOISYLAB_DEBUG=1 for the traceback)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
