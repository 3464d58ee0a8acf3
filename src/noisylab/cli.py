"""The ``noisylab`` command line: list, noise, train, run, sweep, results, reproduce, report.

Bad input prints one red line and exits with code 2; no tracebacks (set
``NOISYLAB_DEBUG=1`` to see them).
"""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console

from noisylab import commands

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
            parts.append(f"{loc}: {e.get('msg')} (got {e.get('input')!r})")
        return "; ".join(parts)
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning user errors into one line and exit code 2."""
    debug = bool(os.environ.get("NOISYLAB_DEBUG"))
    try:
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
