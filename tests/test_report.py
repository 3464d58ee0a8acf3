"""The reproduction report: built from the store, complete, and self-contained."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "tests") + os.pathsep + env.get("PYTHONPATH", "")
    env["NOISYLAB_EXTRA_STUDIES"] = "fixture=report_fixture_study"
    env.update(extra or {})
    return env


def _cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "noisylab.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def _images(html: str) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', html)


def test_reproduce_then_report_from_store_alone(tmp_path):
    env = _env()
    r = _cli(
        "reproduce", "--only", "fixture", "--preset", "tiny", "--jobs", "1", cwd=tmp_path, env=env
    )
    assert r.returncode == 0, r.stderr
    html = (tmp_path / "report" / "index.html").read_text()
    assert "A fixture study" in html
    assert "1 of 2 claims reproduced" in html
    for img in _images(html):
        assert (tmp_path / "report" / img).is_file(), img
    md = (tmp_path / "report" / "README.md").read_text()
    assert "**not reproduced**" in md

    # Rebuild from the store alone into a new directory: same claims, no re-running.
    r2 = _cli("report", "--out", "report2", cwd=tmp_path, env=env)
    assert r2.returncode == 0, r2.stderr
    claims = json.loads((tmp_path / "report2" / "fixture" / "claims.json").read_text())
    assert [c["reproduced"] for c in claims] == [True, False]


def test_report_without_store_is_one_line_error(tmp_path):
    r = _cli("report", "--store", "nowhere.sqlite", cwd=tmp_path, env=_env())
    assert r.returncode == 2
    assert "no results store" in r.stderr
    assert "Traceback" not in r.stderr


def test_markdown_tables_render():
    from noisylab.report.build import markdown_to_html

    html = markdown_to_html("# T\n\n| a | b |\n|---|---|\n| 1 | <2> |\n")
    assert "<th>a</th>" in html and "<td>&lt;2&gt;</td>" in html and "<h3>T</h3>" in html


# ---------------------------------------------------------------------------------------------
# The real thing: every study's tiny preset, one report, rendered in a browser.


@pytest.fixture(scope="session")
def tiny_report(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("tiny-report")
    r = _cli("reproduce", "--preset", "tiny", cwd=work, env=dict(os.environ))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return work / "report"


STUDIES = ["losses", "sharpness", "alignment", "modular", "feedback"]


def test_tiny_report_has_all_five_sections(tiny_report):
    html = (tiny_report / "index.html").read_text()
    for s in STUDIES:
        assert f'<section id="{s}" class="study">' in html, s
        claims = json.loads((tiny_report / s / "claims.json").read_text())
        assert claims, s
        for c in claims:
            assert isinstance(c["reproduced"], bool)
            assert c["statement"] in html
    imgs = _images(html)
    assert len(imgs) >= 5
    for img in imgs:
        assert (tiny_report / img).is_file(), img


def _chromium() -> str:
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    why = "chromium is not installed"
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        try:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=300)
            r = subprocess.run(
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
                capture_output=True,
                text=True,
                timeout=600,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )
            if r.returncode == 0 and (path := shutil.which("chromium")):
                return path
            why += f" and apt-get install chromium failed: {r.stderr.strip()[-300:]}"
        except (OSError, subprocess.TimeoutExpired) as exc:
            why += f" and apt-get install chromium failed: {exc}"
    else:
        why += " and cannot be installed here (apt-get as root is unavailable)"
    pytest.skip(why)


@pytest.mark.browser
def test_report_renders_in_headless_chromium(tiny_report, tmp_path):
    chromium = _chromium()
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--allow-file-access-from-files",
        "--virtual-time-budget=10000",
        "--window-size=1280,2400",
        "--enable-logging=stderr",
        "--v=0",
    ]
    url = (tiny_report / "index.html").resolve().as_uri()
    shot = tiny_report / "screenshot.png"
    r = subprocess.run(
        [chromium, *flags, f"--screenshot={shot}", url], capture_output=True, text=True, timeout=180
    )
    assert shot.is_file() and shot.stat().st_size > 10_000, r.stderr[-2000:]
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=180
    )
    body = re.search(r"<body[^>]*>", dom.stdout)
    assert body, dom.stderr[-2000:]
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(0)))
    assert attrs["data-console-errors"] == "0"
    assert int(attrs["data-images-total"]) >= 5
    assert attrs["data-images-loaded"] == attrs["data-images-total"]
    assert "Uncaught" not in dom.stderr
