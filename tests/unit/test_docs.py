"""The README documents every setting (the docs are part of each change)."""

from __future__ import annotations

from pathlib import Path

from mjapi.settings import Settings

README = Path(__file__).parents[2] / "README.md"


def test_every_setting_is_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [f"MJAPI_{name.upper()}" for name in Settings.model_fields]
    assert [var for var in missing if f"`{var}`" not in text] == []


def test_readme_test_command_is_what_ci_runs() -> None:
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1] == "bash scripts/test"
    assert "bash scripts/test" in README.read_text(encoding="utf-8")
