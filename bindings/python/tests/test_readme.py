"""The Python snippets of the top-level README and of the Python guide run as written."""

from __future__ import annotations

import re

import pytest

from conftest import ROOT

# (document, the section that shows the one python block)
SNIPPETS = [
    ("README.md", "## Using from Python"),
    ("bindings/python/README.md", "## Quick start"),
]


def python_snippet(document: str, section: str) -> str:
    text = (ROOT / document).read_text(encoding="utf-8")
    body = text.split(section, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", body, re.S)
    assert len(blocks) == 1, f"expected one python block in {document}'s {section!r}"
    return blocks[0]


@pytest.mark.parametrize(("document", "section"), SNIPPETS)
def test_readme_python_snippet_runs(document: str, section: str,
                                    monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    code = compile(python_snippet(document, section), document, "exec")
    exec(code, {"__name__": "readme"})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("sk_live_")
    assert out[1].startswith('Bearer realm="claimport", error="insufficient_scope"')
