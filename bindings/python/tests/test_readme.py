"""The README's Python quick start runs as written."""

from __future__ import annotations

import re

import pytest

from conftest import ROOT


def python_snippet() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Using from Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "expected one python block in the README's Python section"
    return blocks[0]


def test_readme_python_snippet_runs(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    exec(compile(python_snippet(), "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("sk_live_")
    assert out[1].startswith('Bearer realm="claimport", error="insufficient_scope"')
