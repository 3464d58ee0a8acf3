"""Imports point down the layers that ``docs/design.md`` states, in every module of the package.

The layer line of ``docs/design.md`` is the single statement of the order; this test parses
it and walks every ``import`` statement (module level and inside functions) of
``src/noisylab/**/*.py`` with ``ast``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "noisylab"
DESIGN = ROOT / "docs" / "design.md"


def parse_layers(text: str) -> dict[str, int]:
    """``{top-level name: layer index}`` from the one backticked ``a, b → c → ...`` line;
    index 0 is the highest layer."""
    lines = re.findall(r"^`([^`]*→[^`]*)`\s*$", text, flags=re.MULTILINE)
    assert len(lines) == 1, f"expected one layer line in design.md, found {lines}"
    layers: dict[str, int] = {}
    for i, group in enumerate(lines[0].split("→")):
        for name in group.split(","):
            name = name.strip()
            assert re.fullmatch(r"[A-Za-z_]\w*", name), f"bad layer entry {name!r}"
            assert name not in layers, f"{name} is in two layers"
            layers[name] = i
    return layers


def imported_modules(path: Path, package_root: Path, package: str = "noisylab"):
    """``(line, absolute module name)`` of every import in ``path`` that names ``package``."""
    rel = path.relative_to(package_root).with_suffix("")
    parts = [package, *rel.parts]
    if parts[-1] == "__init__":
        parts = parts[:-1]
        here = parts
    else:
        here = parts[:-1]  # the package holding this module
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module == package or not node.module:  # from noisylab import x / from . import x
                out += [(node.lineno, f"{module}.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, module))
    return [(line, m) for line, m in out if m == package or m.startswith(package + ".")]


def violations(package_root: Path, layers: dict[str, int]) -> list[str]:
    """Every import from a higher layer, and every top-level module the layers do not name."""
    found = []
    for path in sorted(package_root.rglob("*.py")):
        rel = path.relative_to(package_root)
        top = rel.parts[0].removesuffix(".py")
        if top == "__init__":
            for line, module in imported_modules(path, package_root):
                found.append(f"{rel}:{line}: the root package imports {module}")
            continue
        if top not in layers:
            found.append(f"{rel}: {top!r} is in no layer of docs/design.md")
            continue
        for line, module in imported_modules(path, package_root):
            target = module.split(".")[1] if "." in module else None
            if target is None or target == "__version__":
                continue  # `import noisylab` (the root: the version string only)
            if target not in layers:
                found.append(f"{rel}:{line}: imports {module}, which is in no layer")
            elif layers[target] < layers[top]:
                found.append(f"{rel}:{line}: {top} imports {module} from a higher layer")
    return found


def test_design_names_a_layer_for_every_top_level_module():
    layers = parse_layers(DESIGN.read_text())
    tops = {p.name.removesuffix(".py") for p in PACKAGE.iterdir()}
    tops = {t for t in tops if t not in ("__init__", "__pycache__", "py.typed")}
    tops = {t for t in tops if (PACKAGE / t).is_dir() or (PACKAGE / f"{t}.py").is_file()}
    assert tops <= set(layers), f"not placed in a layer: {sorted(tops - set(layers))}"
    assert layers["cli"] < layers["report"] < layers["studies"] < layers["sweep"]
    assert layers["sweep"] < layers["train"] < layers["nn"] < layers["data"] < layers["registry"]


def test_no_module_imports_from_a_higher_layer():
    layers = parse_layers(DESIGN.read_text())
    assert violations(PACKAGE, layers) == []


def test_the_check_finds_upward_imports_anywhere(tmp_path):
    """A fake package: an upward import inside a function, a relative one, and an unplaced
    package are all reported; downward and same-layer imports are not."""
    root = tmp_path / "noisylab"
    for d in ("sweep", "studies", "data", "stray"):
        (root / d).mkdir(parents=True)
        (root / d / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "sweep" / "store.py").write_text(
        "import json\nfrom noisylab.data import x\n\ndef f():\n    from noisylab import studies\n"
    )
    (root / "sweep" / "exe.py").write_text("from ..studies import base\nfrom . import store\n")
    (root / "studies" / "run.py").write_text("from noisylab.sweep.store import f\n")
    (root / "data" / "io.py").write_text("import noisylab.sweep.store as s\n")
    layers = parse_layers("x\n`studies → sweep → data`\n")
    assert violations(root, layers) == [
        "data/io.py:1: data imports noisylab.sweep.store from a higher layer",
        "stray/__init__.py: 'stray' is in no layer of docs/design.md",
        "sweep/exe.py:1: sweep imports noisylab.studies from a higher layer",
        "sweep/store.py:5: sweep imports noisylab.studies from a higher layer",
    ]
