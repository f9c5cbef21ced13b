"""The import boundaries of DESIGN.md: channels never import the core or the
knowledge base; the knowledge base imports neither; the core imports only the
channel contract, except at the one wiring point."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WIRING = {"helpdesk/bootstrap.py", "helpdesk/runners", "helpdesk/cli"}


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", modules("channels"), ids=lambda p: str(p.relative_to(ROOT)))
def test_channels_never_import_the_core_or_the_knowledge_base(path: Path) -> None:
    bad = {m for m in imports_of(path) if m.split(".")[0] in ("helpdesk", "knowledge_base")}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules("knowledge_base"),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_knowledge_base_imports_neither(path: Path) -> None:
    bad = {m for m in imports_of(path) if m.split(".")[0] in ("helpdesk", "channels")}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules("helpdesk"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_core_uses_only_the_channel_contract(path: Path) -> None:
    rel = str(path.relative_to(ROOT))
    if rel in WIRING or any(rel.startswith(w + "/") for w in WIRING):
        return
    bad = {m for m in imports_of(path)
           if m.startswith("channels") and m not in ("channels", "channels.base")}
    assert not bad, f"{rel} imports concrete adapters {sorted(bad)}"
