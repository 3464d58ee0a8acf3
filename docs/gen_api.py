"""Generate the API reference (docs/api/*.md) from the package's docstrings.

Usage: ``python docs/gen_api.py [--out docs/api]``. Plain Markdown, one page per
subpackage; readable on GitHub or with any static-site tool (mkdocs, etc.).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import re
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


def docstring_md(doc: str) -> str:
    """A numpydoc docstring as Markdown: section headers in bold, ``name : type`` entries as
    list items (their indented description joined), doctests and indented blocks fenced."""
    lines = doc.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and re.fullmatch(r"-{3,}", nxt.strip()):
            out += ["", f"**{line.strip()}**", ""]
            i += 2
            continue
        if line.lstrip().startswith(">>>"):
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i])
                i += 1
            out += ["```python", *block, "```"]
            continue
        m = re.fullmatch(r"(\*{0,2}[A-Za-z_][\w, *]*) : (.+)", line)
        if m or (re.fullmatch(r"[A-Za-z_]\w*", line) and nxt.startswith("    ")):
            name, kind = (m.group(1), m.group(2)) if m else (line, "")
            desc = []
            i += 1
            while i < len(lines) and lines[i].startswith("    "):
                desc.append(lines[i].strip())
                i += 1
            kind = f" ({kind})" if kind else ""
            out.append(f"- `{name}`{kind}" + (f": {' '.join(desc)}" if desc else ""))
            continue
        if line.startswith("    ") and (not out or not out[-1].strip()):
            block = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                block.append(lines[i][4:])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            out += ["```", *block, "```", ""]
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def _signature(obj) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"


def page(mod) -> str:
    lines = [f"## `{mod.__name__}`", "", docstring_md(inspect.getdoc(mod) or ""), ""]
    for name, obj in _public(mod):
        kind = "class" if inspect.isclass(obj) else "def"
        doc = docstring_md(inspect.getdoc(obj) or "")
        lines += [f"### {kind} `{name}{_signature(obj)}`", "", doc, ""]
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
        if info.name.startswith(SKIP) or any(p.startswith("_") for p in info.name.split(".")):
            continue
        try:
            mod = importlib.import_module(info.name)
        except ImportError as exc:  # optional extras
            print(f"skipped {info.name}: {exc}")
            continue
        top = info.name.split(".")[1]
        groups.setdefault(top, []).append(page(mod))
    index = [
        "# noisylab API reference",
        "",
        "Generated from the docstrings by `docs/gen_api.py` (`make docs`); one page per",
        "subpackage. The internal contracts between the layers are in `../design.md`.",
        "",
    ]
    for old in args.out.glob("*.md"):  # pages of removed subpackages must not linger
        old.unlink()
    for top, pages in sorted(groups.items()):
        (args.out / f"{top}.md").write_text(f"# noisylab.{top}\n\n" + "\n".join(pages))
        first = (inspect.getdoc(importlib.import_module(f"noisylab.{top}")) or "").split("\n\n")[0]
        summary = " ".join(first.split())
        index.append(f"- [noisylab.{top}]({top}.md)" + (f" — {summary}" if summary else ""))
    (args.out / "index.md").write_text("\n".join(index) + "\n")
    print(f"wrote {len(groups)} pages to {args.out}")


if __name__ == "__main__":
    main()
