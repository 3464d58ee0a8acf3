"""The reproduction report: HTML + Markdown built from the results store, never by re-running.

``record(store_path, study, preset, config, run_ids)`` remembers which units make up a study's
latest reproduction (table ``study_runs`` beside the sweep store's tables); ``build(store_path,
out)`` reads those units' stored results, re-runs each study's *analysis* (figures, tables,
claims; no training) into ``out/<study>/`` and renders ``out/index.html``,
``out/README.md`` and ``out/summary.json`` (read back with ``summary(out)``).
"""

from __future__ import annotations

from .build import build, latest_study_runs, record, summary

__all__ = ["build", "latest_study_runs", "record", "summary"]
