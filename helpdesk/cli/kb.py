"""``tanya-ptsp kb`` and ``tanya-ptsp suggest``: the FAQ base from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from helpdesk.cli.common import config_from, fail, open_store
from helpdesk.config import Config
from helpdesk.knowledge import KnowledgeService, faq_source
from helpdesk.store import Store
from knowledge_base.entries import FaqFileError, dump_faq_files, load_faq_files
from knowledge_base.evaluation import EvalFileError, evaluate, read_eval_file
from knowledge_base.matcher import KnowledgeBase, Suggestion


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("kb", help="the FAQ base")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    load = actions.add_parser("import", help="add or update FAQ entries from TOML files "
                                             "(idempotent by id)")
    load.add_argument("path", type=Path, help="a .toml file or a directory of them")
    load.set_defaults(handler=run_import)
    export = actions.add_parser("export", help="write the FAQ entries as TOML files")
    export.add_argument("path", type=Path, help="directory to write into")
    export.set_defaults(handler=run_export)
    check = actions.add_parser("eval", help="measure the matcher on labelled messages")
    check.add_argument("file", type=Path, help="TSV: message<TAB>expected entry id or none")
    check.add_argument("--quiet", action="store_true", help="figures only, no misses")
    check.set_defaults(handler=run_eval)

    suggest = sub.add_parser("suggest", help="FAQ answers for a resident's message")
    suggest.add_argument("text", help="the message, or - to read one message per line "
                                      "from standard input")
    suggest.add_argument("--json", action="store_true", help="print JSON")
    suggest.add_argument("--limit", type=int, default=3)
    suggest.set_defaults(handler=run_suggest)


def _service(config: Config) -> tuple[Store, KnowledgeService]:
    store = open_store(config)
    return store, KnowledgeService(store, config.knowledge_base)


def _matcher(config: Config, service: KnowledgeService) -> tuple[KnowledgeBase, str]:
    """The database's FAQ, or the configured files when the database has none yet."""
    if service.count() > 0:
        return service.matcher(), "the database"
    source = faq_source(config.knowledge_base, Path(config.base_dir))
    kb = KnowledgeBase(load_faq_files(source), suggest_min=service.suggest_min,
                       auto_answer_min=service.auto_answer_min)
    return kb, str(source)


def run_import(args: argparse.Namespace) -> int:
    config = config_from(args)
    store, service = _service(config)
    try:
        entries = load_faq_files(args.path, auto_answer_min=service.auto_answer_min)
        result = service.import_entries(entries, source=str(args.path))
    except FaqFileError as exc:
        print(f"tanya-ptsp: FAQ refused, nothing imported:\n{exc}", file=sys.stderr)
        return 1
    finally:
        store.dispose()
    print(f"imported {len(entries)} FAQ entries from {args.path}: {result.added} added, "
          f"{result.updated} updated, {result.unchanged} unchanged")
    return 0


def run_export(args: argparse.Namespace) -> int:
    config = config_from(args)
    store, service = _service(config)
    try:
        entries = service.entries()
    finally:
        store.dispose()
    if not entries:
        return fail("the database has no FAQ entries to export")
    paths = dump_faq_files(entries, args.path)
    print(f"wrote {len(entries)} FAQ entries to {len(paths)} files in {args.path}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    config = config_from(args)
    store, service = _service(config)
    try:
        kb, source = _matcher(config, service)
        report = evaluate(kb, read_eval_file(args.file))
    except (EvalFileError, FaqFileError) as exc:
        return fail(str(exc))
    finally:
        store.dispose()
    print(f"FAQ from {source}; {args.file}")
    print(report.format(show_misses=not args.quiet))
    return 0


def _as_json(suggestions: list[Suggestion]) -> list[dict[str, object]]:
    return [{"id": s.entry_id, "question": s.question, "answer": s.answer, "score": s.score,
             "matched": s.matched_phrasing, "category": s.category} for s in suggestions]


def run_suggest(args: argparse.Namespace) -> int:
    if args.limit < 1:
        return fail("--limit must be at least 1", 2)
    config = config_from(args)
    store, service = _service(config)
    try:
        kb, _ = _matcher(config, service)
    finally:
        store.dispose()
    if args.text == "-":
        for line in sys.stdin:
            found = kb.suggest(line.rstrip("\n"), args.limit)
            if args.json:
                print(json.dumps(_as_json(found), ensure_ascii=False), flush=True)
            else:
                print(" | ".join(f"{s.entry_id} ({s.score:.0f})" for s in found) or "-",
                      flush=True)
        return 0
    found = kb.suggest(args.text, args.limit)
    if args.json:
        print(json.dumps(_as_json(found), ensure_ascii=False, indent=2))
    elif not found:
        print("no FAQ entry fits this message")
    else:
        for s in found:
            sure = "  (sure enough to answer automatically)" if kb.is_confident(s) else ""
            print(f"{s.score:5.1f}  {s.entry_id}: {s.question}{sure}")
    return 0
