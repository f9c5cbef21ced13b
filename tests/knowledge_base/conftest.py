import pytest

from knowledge_base.defaults import AUTO_ANSWER_MIN, SUGGEST_MIN, starter_faq_dir
from knowledge_base.entries import FaqEntry, load_faq_files
from knowledge_base.matcher import KnowledgeBase


@pytest.fixture(scope="session")
def starter_entries() -> list[FaqEntry]:
    return load_faq_files(starter_faq_dir())


@pytest.fixture(scope="session")
def kb(starter_entries: list[FaqEntry]) -> KnowledgeBase:
    return KnowledgeBase(starter_entries, suggest_min=SUGGEST_MIN, auto_answer_min=AUTO_ANSWER_MIN)
