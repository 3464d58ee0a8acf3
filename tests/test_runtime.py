"""Process-wide allocator tuning (applied once, skipped where the user decides), and the
description of the machine that run records and benchmarks carry."""

from __future__ import annotations

import subprocess
import sys

import pytest

from noisylab import runtime


def _run(code: str, env: dict[str, str]) -> str:
    import os

    full = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    full.pop("NOISYLAB_TUNE_ALLOCATOR", None)
    full.update(env)
    r = subprocess.run(
        [sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


CODE = "from noisylab.runtime import tune_allocator; print(tune_allocator(), tune_allocator())"


@pytest.mark.skipif(not runtime._glibc(), reason="glibc's mallopt only")
def test_tune_allocator_applies_once_on_glibc():
    assert _run(CODE, {}) == "True True"


@pytest.mark.parametrize(
    "env",
    [
        {"NOISYLAB_TUNE_ALLOCATOR": "0"},
        {"MALLOC_TRIM_THRESHOLD_": "1000000"},
        {"MALLOC_MMAP_THRESHOLD_": "1000000"},
    ],
)
def test_tune_allocator_leaves_the_users_choice(env):
    assert _run(CODE, env) == "False False"


@pytest.mark.skipif(not runtime._glibc(), reason="glibc's mallopt only")
def test_tuned_allocator_stops_page_faults_of_a_repeated_training_step():
    """The reason it exists: an ensemble training step (32 members, width 128, batch 128,
    Adam) frees and re-allocates buffers of a few MB; with glibc's adaptive thresholds their
    pages are faulted in afresh every step (about 1 700 minor faults a step, measured), tuned
    they are reused."""
    code = """
import resource, sys, torch
from noisylab.runtime import tune_allocator
if sys.argv[1] == "1":
    tune_allocator()
from noisylab.nn import build
model = build("mlp", 32, seed=0, in_features=40, out_features=10, width=128)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
g = torch.Generator().manual_seed(0)
x = torch.randn(1024, 40, generator=g)
y = torch.randint(0, 10, (32, 128), generator=g)
idx = torch.randint(0, 1024, (32 * 128,), generator=g)
def step():
    opt.zero_grad()
    z = model(x.index_select(0, idx).view(32, 128, 40))
    (torch.logsumexp(z, -1) - z.gather(-1, y.unsqueeze(-1)).squeeze(-1)).mean(1).sum().backward()
    opt.step()
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
    faults = {}
    for tuned in ("0", "1"):
        faults[tuned] = int(
            _run(code.replace("sys.argv[1]", repr(tuned)), {"OMP_NUM_THREADS": "1"})
        )
    assert faults["1"] * 5 < faults["0"], faults


@pytest.mark.parametrize(
    ("text", "model"),
    [
        (  # x86: one block per logical CPU, "model name" in each
            "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\nflags\t\t: fpu\n\n"
            "processor\t: 1\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n",
            "AMD EPYC",
        ),
        ("processor\t: 0\nBogoMIPS\t: 50.00\n\nHardware\t: BCM2835\n", "BCM2835"),  # ARM
        ("system type\t\t: MT7621\ncpu model\t\t: MIPS 1004Kc V2.15\n", "MIPS 1004Kc V2.15"),
    ],
)
def test_cpu_model_reads_the_model_line_of_cpuinfo(tmp_path, text, model):
    f = tmp_path / "cpuinfo"
    f.write_text(text)
    assert runtime.cpu_model(f) == model


@pytest.mark.parametrize("text", [None, "processor\t: 0\nmodel name\t:   \n"])
def test_cpu_model_falls_back_to_platform_without_a_model_line(tmp_path, monkeypatch, text):
    f = tmp_path / "cpuinfo"
    if text is not None:  # None: no such file (not Linux)
        f.write_text(text)
    monkeypatch.setattr(runtime.platform, "processor", lambda: "arm")
    assert runtime.cpu_model(f) == "arm"
    monkeypatch.setattr(runtime.platform, "processor", lambda: "")
    assert runtime.cpu_model(f) == "unknown"


def test_machine_names_this_cpu_and_its_usable_cpus():
    import json
    import os

    m = runtime.machine()
    assert set(m) == {"host", "platform", "processor", "cpu", "cpus", "usable_cpus"}
    assert m["cpu"] == runtime.cpu_model() and m["cpu"]
    assert m["cpus"] == os.cpu_count()
    assert 1 <= m["usable_cpus"] <= m["cpus"]
    assert json.loads(json.dumps(m)) == m  # what benchmarks and run.json write
