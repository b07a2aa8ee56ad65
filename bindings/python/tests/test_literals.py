"""The `Literal` types of `portcullis.codes` (issue #24) hold exactly the strings the
native module can return, as the core lists them, and the vectors' values are among
them."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, List, Set, get_args

import pytest

import portcullis
from conftest import vectors
from portcullis import _portcullis, codes


def values(alias: Any) -> List[str]:
    """The strings of a Union of one-value Literals."""
    out: List[str] = []
    for member in get_args(alias):
        (value,) = get_args(member)
        out.append(value)
    return out


ENUMERATIONS = _portcullis._enumerations()


def test_every_literal_has_its_list_in_the_module_and_the_reverse() -> None:
    assert sorted(ENUMERATIONS) == sorted(codes.__all__)


@pytest.mark.parametrize("name", sorted(ENUMERATIONS))
def test_a_literal_holds_exactly_what_the_module_can_return(name: str) -> None:
    returned = ENUMERATIONS[name]
    assert len(set(returned)) == len(returned), f"{name} lists a value twice"
    assert values(getattr(codes, name)) == returned


def test_the_vectors_reasons_details_errors_and_warnings_are_in_the_literals() -> None:
    cases = vectors("decisions")["cases"]
    expects = [c["expect"] for c in cases]
    assert {e["reason"] for e in expects} <= set(values(codes.Reason))
    assert {e["error"] for e in expects} - {None} <= set(values(codes.BearerError))
    assert {e["detail"] for e in expects} - {None} <= set(values(codes.Detail))
    assert {w for e in expects for w in e["warnings"]} <= set(values(codes.WarningCode))
    table = vectors("errors")["table"]
    nested = {r["code"] for r in table if r["family"] in ("credential", "access_token")}
    assert nested <= set(values(codes.Reason))
    assert {r["code"] for r in table if r["family"] in ("key", "path")} == set(
        values(codes.Detail)
    )


def test_the_oauth_vectors_error_codes_are_in_the_literals() -> None:
    found: Set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "error" and isinstance(item, str):
                    found.add(item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(vectors("oauth"))
    assert found
    known = set(values(codes.Reason)) | set(values(codes.OAuthErrorCode))
    assert found <= known | set(values(codes.BearerError))


STUB = Path(portcullis.__file__).with_name("_portcullis.pyi")


@pytest.mark.parametrize(
    "cls, attribute, literal",
    [
        ("Decision", "reason", "Reason"),
        ("Decision", "error", "Optional[BearerError]"),
        ("Decision", "detail", "Optional[Detail]"),
        ("Decision", "warnings", "List[WarningCode]"),
        ("Verification", "reason", "Reason"),
        ("Verification", "detail", "Optional[Detail]"),
        ("Verification", "warnings", "List[WarningCode]"),
        ("KeyRecord", "state", "KeyState"),
        ("AuthorizeOutcome", "kind", "AuthorizeKind"),
        ("AuthorizeOutcome", "error", "Optional[OAuthErrorCode]"),
        ("Credential", "source", "CredentialSource"),
        ("Client", "client_type", "ClientType"),
    ],
)
def test_the_stubs_annotate_the_enumerated_strings_with_their_literal(
    cls: str, attribute: str, literal: str
) -> None:
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    (found,) = [
        item
        for node in tree.body
        if isinstance(node, ast.ClassDef) and node.name == cls
        for item in node.body
        if isinstance(item, ast.FunctionDef) and item.name == attribute
    ]
    assert found.returns is not None
    assert ast.unparse(found.returns) == literal


def test_every_public_stub_item_has_a_docstring() -> None:
    tree = ast.parse(STUB.read_text(encoding="utf-8"))

    def documented(node: Any) -> bool:
        first = node.body[0]
        return isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)

    undocumented = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            if not documented(node):
                undocumented.append(node.name)
            undocumented += [
                f"{node.name}.{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef)
                and (item.name == "__new__" or not item.name.startswith("__"))
                and not documented(item)
            ]
        elif isinstance(node, ast.FunctionDef) and not documented(node):
            undocumented.append(node.name)
    assert undocumented == []
