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


def _links(html: str) -> list[str]:
    """Every address the page would load or link to (src=, href=, CSS url())."""
    return re.findall(r'(?:src|href)="([^"]*)"', html) + re.findall(r"url\(([^)]*)\)", html)


def test_reproduce_then_report_from_store_alone(tmp_path):
    env = _env()
    r = _cli(
        "reproduce", "--only", "fixture", "--preset", "tiny", "--jobs", "1", cwd=tmp_path, env=env
    )
    assert r.returncode == 0, r.stderr
    assert "fixture: 1/2 claims reproduced" in r.stdout
    html = (tmp_path / "report" / "index.html").read_text()
    assert "A fixture study" in html
    assert "1<small> / 2 claims reproduced" in html
    assert html.count('class="claim"') == 2
    assert 'data-reproduced="true"' in html and 'data-reproduced="false"' in html
    assert "noisylab run fixture --preset tiny" in html  # the rerun command
    assert _images(html) == ["fixture/figures/squares.png"]
    for img in _images(html):
        assert (tmp_path / "report" / img).is_file(), img
    md = (tmp_path / "report" / "README.md").read_text()
    assert "**not reproduced**" in md and "(fixture/figures/squares.png)" in md

    # A second reproduce reuses the stored runs, and `report` rebuilds from the store alone:
    # neither may call run_unit (the fixture raises if it is called).
    no_runs = _env({"FIXTURE_NO_RUNS": "1"})
    r = _cli("reproduce", "--only", "fixture", "--preset", "tiny", cwd=tmp_path, env=no_runs)
    assert r.returncode == 0, r.stdout + r.stderr
    r2 = _cli("report", "--out", "report2", cwd=tmp_path, env=no_runs)
    assert r2.returncode == 0, r2.stdout + r2.stderr
    claims = json.loads((tmp_path / "report2" / "fixture" / "claims.json").read_text())
    assert [c["reproduced"] for c in claims] == [True, False]
    from noisylab.report import summary

    (s,) = summary(tmp_path / "report2")
    assert (s["study"], s["reproduced"], s["error"]) == ("fixture", 1, None)
    assert (tmp_path / "report2" / "fixture" / "figures" / "squares.png").is_file()


def test_broken_analysis_is_reported_not_fatal(tmp_path):
    """A study whose stored results no longer analyse gets a section that says so."""
    env = _env()
    r = _cli("reproduce", "--only", "fixture", "--preset", "tiny", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    r = _cli("report", cwd=tmp_path, env=_env({"FIXTURE_BROKEN_ANALYSIS": "1"}))
    assert r.returncode == 1
    assert "analysis failed for fixture" in r.stderr and "Traceback" not in r.stderr
    html = (tmp_path / "report" / "index.html").read_text()
    assert "analysis failed" in html and "KeyError: &#39;curves&#39;" in html


def test_failed_runs_are_reported_and_the_rest_is_kept(tmp_path):
    """A unit that fails: the others are stored, the report is still written from what the
    store holds, and the command exits with 1 naming the study (no traceback)."""
    r = _cli("reproduce", "--only", "fixture", "--preset", "tiny", cwd=tmp_path, env=_env())
    assert r.returncode == 0, r.stderr
    r = _cli(
        "reproduce",
        "--only",
        "fixture",
        "--preset",
        "quick",
        cwd=tmp_path,
        env=_env({"FIXTURE_FAIL": "2"}),
    )
    assert r.returncode == 1
    assert "runs failed in fixture" in r.stderr and "Traceback" not in r.stderr + r.stdout
    assert "1 of 3 runs of study 'fixture' failed" in " ".join(r.stdout.split())
    r = _cli("reproduce", "--only", "fixture", "--preset", "quick", cwd=tmp_path, env=_env())
    assert r.returncode == 0, r.stderr  # the stored units are reused, the failed one reruns
    assert "fixture: 3 runs done" in r.stdout


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


STUDIES = ["losses", "sharpness", "alignment", "modular", "feedback"]


def test_tiny_report_has_all_five_sections(tiny_report):
    html = (tiny_report / "index.html").read_text()
    md = (tiny_report / "README.md").read_text()
    sections = re.split(r'<section id="(\w+)" class="box study">', html)[1:]
    assert sections[::2] == STUDIES
    summary = {s["study"]: s for s in json.loads((tiny_report / "summary.json").read_text())}
    assert list(summary) == STUDIES
    for name, body in zip(sections[::2], sections[1::2]):
        assert summary[name]["error"] is None, (name, summary[name]["error"])
        claims = json.loads((tiny_report / name / "claims.json").read_text())
        assert claims, name
        assert claims == summary[name]["claims"]
        # every claim: a boolean, its statement and a badge that matches the boolean
        flags = re.findall(r'<div class="claim" id="[^"]+" data-reproduced="(true|false)"', body)
        assert flags == [str(c["reproduced"]).lower() for c in claims], name
        for c in claims:
            assert isinstance(c["reproduced"], bool)
            assert html_escape(c["statement"]) in body
            assert c["statement"].replace("|", "\\|") in md
        assert "<h3>Figures</h3>" in body and "<h3>Tables</h3>" in body, name
        assert f"noisylab run {name} --preset tiny" in body
        assert "&#34;seed&#34;:" in body and "torch" in body  # config, versions
    n = sum(len(s["claims"]) for s in summary.values())
    ok = sum(s["reproduced"] for s in summary.values())
    assert f"{ok}<small> / {n} claims reproduced" in html
    imgs = _images(html)
    assert len(imgs) >= 5
    for img in imgs:
        assert (tiny_report / img).is_file(), img
    for img in re.findall(r"!\[[^]]*\]\(([^)]+)\)", md):
        assert (tiny_report / img).is_file(), img


def test_tiny_report_is_self_contained(tiny_report):
    """No network assets: every address is a fragment, a data: URI or a file in the report."""
    html = (tiny_report / "index.html").read_text()
    links = _links(html)
    assert links
    for link in links:
        if link.startswith(("#", "data:")):
            continue
        assert "://" not in link and not link.startswith("//"), link
        target = (tiny_report / link).resolve()
        assert target.is_relative_to(tiny_report.resolve()) and target.is_file(), link


def html_escape(text: str) -> str:
    """Escaped as the report's templates escape (Jinja's autoescape)."""
    from markupsafe import escape

    return str(escape(text))


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
                # chromium does not depend on any font: without one the screenshot has no text
                [
                    "apt-get",
                    "install",
                    "-y",
                    "-qq",
                    "--no-install-recommends",
                    "chromium",
                    "fonts-dejavu-core",
                ],
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


def _render(chromium: str, url: str, profile: Path, shot: Path | None = None):
    """Load ``url`` in headless Chromium; return the <body> attributes the page's self-check
    sets, the console messages Chromium logged, and its stderr."""
    flags = [
        "--headless",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--allow-file-access-from-files",
        "--virtual-time-budget=10000",
        "--hide-scrollbars",
        "--window-size=1280,2400",
        "--enable-logging=stderr",
        "--v=0",
    ]
    if shot is not None:
        r = subprocess.run(
            [chromium, *flags, f"--screenshot={shot}", url],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert shot.is_file() and shot.stat().st_size > 10_000, r.stderr[-2000:]
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=180
    )
    body = re.search(r"<body[^>]*>", dom.stdout)
    assert body, dom.stderr[-2000:]
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(0)))
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    return attrs, console, dom.stderr


@pytest.mark.browser
def test_report_renders_in_headless_chromium(tiny_report, tmp_path):
    chromium = _chromium()
    shot = tiny_report / "screenshot.png"
    url = (tiny_report / "index.html").resolve().as_uri()
    attrs, console, stderr = _render(chromium, url, tmp_path / "profile", shot)
    assert attrs["data-console-errors"] == "0", console
    assert console == []  # the report logs nothing at all
    assert int(attrs["data-images-total"]) >= 5
    assert attrs["data-images-loaded"] == attrs["data-images-total"]
    assert "Uncaught" not in stderr

    # The same checks catch a broken page: a missing figure and a script error.
    broken = tiny_report / "broken.html"
    html = (tiny_report / "index.html").read_text()
    broken.write_text(
        html.replace("</main>", '<img src="nowhere.png"><script>no_such_fn();</script></main>')
    )
    try:
        attrs, console, _ = _render(chromium, broken.as_uri(), tmp_path / "profile2")
    finally:
        broken.unlink()
    assert attrs["data-console-errors"] != "0"
    assert int(attrs["data-images-loaded"]) == int(attrs["data-images-total"]) - 1
    assert any("no_such_fn" in line for line in console)
