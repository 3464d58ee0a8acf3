"""Generate the API reference (docs/api/*.md) from the package's docstrings.

Usage: ``python docs/gen_api.py [--out docs/api]``. Plain Markdown, one page per
subpackage; readable on GitHub or with any static-site tool (mkdocs, etc.).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
from pathlib import Path

import noisylab

SKIP = ("noisylab.cli", "noisylab.commands")


def _public(mod) -> list[tuple[str, object]]:
    names = getattr(mod, "__all__", None) or [n for n in vars(mod) if not n.startswith("_")]
    out = []
    for n in names:
        obj = getattr(mod, n, None)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == mod.__name__:
            out.append((n, obj))
    return out


def _signature(obj) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"


def page(mod) -> str:
    lines = [f"## `{mod.__name__}`", "", inspect.getdoc(mod) or "", ""]
    for name, obj in _public(mod):
        kind = "class" if inspect.isclass(obj) else "def"
        lines += [f"### {kind} `{name}{_signature(obj)}`", "", inspect.getdoc(obj) or "", ""]
        if inspect.isclass(obj):
            for mname, meth in vars(obj).items():
                if (
                    mname.startswith("_")
                    or not callable(meth)
                    or not getattr(meth, "__doc__", None)
                ):
                    continue
                lines += [f"- `{mname}{_signature(meth)}`: {inspect.getdoc(meth).splitlines()[0]}"]
            lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "api")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    groups: dict[str, list[str]] = {}
    for info in pkgutil.walk_packages(noisylab.__path__, "noisylab."):
        if info.name.startswith(SKIP):
            continue
        try:
            mod = importlib.import_module(info.name)
        except ImportError as exc:  # optional extras
            print(f"skipped {info.name}: {exc}")
            continue
        top = info.name.split(".")[1]
        groups.setdefault(top, []).append(page(mod))
    index = ["# noisylab API reference", "", "Generated from docstrings by `docs/gen_api.py`.", ""]
    for top, pages in sorted(groups.items()):
        (args.out / f"{top}.md").write_text(f"# noisylab.{top}\n\n" + "\n".join(pages))
        index.append(f"- [noisylab.{top}]({top}.md)")
    (args.out / "index.md").write_text("\n".join(index) + "\n")
    print(f"wrote {len(groups)} pages to {args.out}")


if __name__ == "__main__":
    main()
