"""docs/naming.md, the Rust / C / Python naming table, names only what exists.

Every backticked name is checked: a C name must be declared in include/portcullis.h, a
Python name must be an attribute of the ``portcullis`` module, a Rust name must be an item
the crate exports (at its root or in the public namespace it is written under) and a
``Type::method`` a ``pub fn`` of the crate.
"""

from __future__ import annotations

import re
from typing import Dict, List, Set

import pytest

import portcullis
from conftest import ROOT

NAMING = ROOT / "docs" / "naming.md"
HEADER = ROOT / "include" / "portcullis.h"
SRC = ROOT / "crates" / "portcullis" / "src"
# Public namespaces and the file that says what each exports.
NAMESPACES = {
    "": SRC / "lib.rs",
    "oauth": SRC / "oauth" / "mod.rs",
    "scope": SRC / "scope" / "mod.rs",
    "policy": SRC / "policy" / "mod.rs",
    "codes": SRC / "codes.rs",
    "usage": SRC / "usage.rs",
    "limit": SRC / "limit.rs",
    "for_bindings": SRC / "for_bindings.rs",
}
TICKED = re.compile(r"`([^`]+)`")


def rows() -> List[List[str]]:
    """The table's rows as cells (Rust, C, Python, note), header and rule excluded."""
    lines = NAMING.read_text(encoding="utf-8").splitlines()
    start = lines.index("## The table")
    table = [line for line in lines[start:] if line.startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in table[2:]]
    assert all(len(c) == 4 for c in cells), "every row has Rust | C | Python | note"
    return cells


def names(cell: str) -> List[str]:
    return TICKED.findall(cell)


def exported(path_text: str) -> Set[str]:
    """Identifiers a module file makes public: its `pub` items and `pub use` names."""
    found: Set[str] = set()
    for body in re.findall(r"pub use ([^;]+);", path_text):
        # The last segment of each path (or its alias), never the modules it goes through.
        for name, alias in re.findall(r"(\w+)(?:\s+as\s+(\w+))?\s*(?=[,}]|$)", body.strip()):
            found.add(alias or name)
    items = r"pub (?:const )?(?:fn|struct|enum|trait|const|mod|type|static) (\w+)"
    found.update(re.findall(items, path_text))
    return found


@pytest.fixture(scope="module")
def exports() -> Dict[str, Set[str]]:
    out = {ns: exported(path.read_text(encoding="utf-8")) for ns, path in NAMESPACES.items()}
    out[""] |= {ns for ns in NAMESPACES if ns} | {"limits"}
    return out


@pytest.fixture(scope="module")
def pub_fns() -> Set[str]:
    found: Set[str] = set()
    for path in SRC.rglob("*.rs"):
        found.update(re.findall(r"pub (?:const )?fn (\w+)", path.read_text(encoding="utf-8")))
    return found


def test_the_table_has_rows_in_every_language() -> None:
    table = rows()
    assert len(table) > 40
    for column in range(3):
        assert sum(1 for row in table if names(row[column])) > 30


def test_every_c_name_is_declared_in_the_header() -> None:
    header = HEADER.read_text(encoding="utf-8")
    for row in rows():
        for name in names(row[1]):
            assert re.search(rf"\b{re.escape(name)}\b", header), f"{name} is not in portcullis.h"


def test_every_python_name_exists_in_the_module() -> None:
    for row in rows():
        for name in names(row[2]):
            obj: object = portcullis
            for part in name.split("."):
                assert hasattr(obj, part), f"portcullis.{name} does not exist"
                obj = getattr(obj, part)


def test_every_rust_name_is_exported(exports: Dict[str, Set[str]], pub_fns: Set[str]) -> None:
    for row in rows():
        for name in names(row[0]):
            parts = name.split("::")
            namespace = parts[0] if parts[0] in NAMESPACES and len(parts) > 1 else ""
            if namespace:
                parts = parts[1:]
            item, *member = parts
            visible = exports[namespace] | (
                set().union(*exports.values()) if member and not namespace else set()
            )
            assert item in visible, f"{name}: {item} is not exported"
            if member:
                assert member[0] in pub_fns, f"{name}: no pub fn {member[0]}"


def test_a_wrong_name_in_each_language_would_be_caught(
    exports: Dict[str, Set[str]], pub_fns: Set[str]
) -> None:
    header = HEADER.read_text(encoding="utf-8")
    assert not re.search(r"\bportcullis_policy_from_toml\b", header)
    assert not hasattr(portcullis, "ScopeCheck")
    assert "extract" not in exports[""] and "bounded" not in exports[""]
    assert "access_verifier" not in pub_fns


def test_c_constructors_are_named_new() -> None:
    """A call that makes a handle from plain inputs, no handle in, is a constructor."""
    header = HEADER.read_text(encoding="utf-8")
    handles = set(re.findall(r"typedef struct (portcullis_\w+) \1;", header))
    checked = 0
    for fn, params in re.findall(r"portcullis_result (portcullis_\w+)\(([^)]*)\);", header):
        inputs = set(re.findall(r"struct (portcullis_\w+) \*[a-z]", params))
        outputs = set(re.findall(r"struct (portcullis_\w+) \*\*", params))
        if outputs & handles and not inputs & handles:
            checked += 1
            assert "_new" in fn, f"{fn} makes a handle from plain inputs: name it _new…"
    assert checked >= 8
