"""FAQ content, Indonesian normalisation and the answer matcher.

Names are imported lazily so that ``import knowledge_base`` stays cheap (numpy and
rapidfuzz load only when the matcher is used).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "FaqEntry": "knowledge_base.entries",
    "FaqFileError": "knowledge_base.entries",
    "FaqProblem": "knowledge_base.entries",
    "load_faq_files": "knowledge_base.entries",
    "dump_faq_files": "knowledge_base.entries",
    "KnowledgeBase": "knowledge_base.matcher",
    "Suggestion": "knowledge_base.matcher",
    "find_conflicts": "knowledge_base.matcher",
    "EvalReport": "knowledge_base.evaluation",
    "evaluate": "knowledge_base.evaluation",
    "read_eval_file": "knowledge_base.evaluation",
    "SUGGEST_MIN": "knowledge_base.defaults",
    "AUTO_ANSWER_MIN": "knowledge_base.defaults",
    "starter_faq_dir": "knowledge_base.defaults",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'knowledge_base' has no attribute {name!r}")
    return getattr(import_module(module), name)
