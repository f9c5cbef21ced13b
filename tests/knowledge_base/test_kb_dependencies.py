"""The knowledge base stands alone: the help desk and channels depend on it, never back."""

import ast
from pathlib import Path

import knowledge_base

FORBIDDEN = ("helpdesk", "channels")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_knowledge_base_imports_neither_helpdesk_nor_channels() -> None:
    package = Path(knowledge_base.__file__).parent
    files = sorted(package.rglob("*.py"))
    assert len(files) >= 5
    offending = {
        f"{path.name}: {name}"
        for path in files
        for name in imported_modules(path)
        if name.split(".")[0] in FORBIDDEN
    }
    assert not offending
