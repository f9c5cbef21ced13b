"""Administration of the FAQ base: list, create, edit, disable, try a question.

Saving goes through :meth:`KnowledgeService.save`, which refuses an entry that
would make the base unsafe for automatic answers (a phrasing too close to
another entry's) and rebuilds the matcher, so the "try a question" box and
the consultants' suggestions use the change at once.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from helpdesk.models import Role
from helpdesk.web.auth import require_role, services_of
from helpdesk.web.templating import render
from knowledge_base.entries import FaqEntry, FaqFileError

ENTRY_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{1,63}$")


def _lines(form: FormData, name: str) -> tuple[str, ...]:
    value = form.get(name)
    raw = value if isinstance(value, str) else ""
    return tuple(line.strip() for line in raw.splitlines() if line.strip())


def _text(form: FormData, name: str, limit: int = 20_000) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


@require_role(Role.ADMIN)
async def faq_list(request: Request) -> Response:
    services = services_of(request)
    entries = await services.store.run(services.knowledge.entries)
    query = request.query_params.get("q", "").strip().lower()
    category = request.query_params.get("category", "")
    categories = sorted({e.category for e in entries})
    shown = [e for e in entries
             if (not category or e.category == category)
             and (not query or query in e.id.lower() or query in e.question.lower()
                  or query in e.answer.lower())]
    return render(request, "admin/faq_list.html", {
        "entries": shown, "total": len(entries), "categories": categories, "q": query,
        "category": category, "active_section": "admin",
        "notice": request.session.pop("admin_notice", None)})


@require_role(Role.ADMIN)
async def faq_form(request: Request) -> Response:
    services = services_of(request)
    entry_id = request.path_params.get("entry_id")
    entry = None
    if entry_id is not None:
        entries = await services.store.run(services.knowledge.entries)
        entry = next((e for e in entries if e.id == entry_id), None)
        if entry is None:
            return render(request, "error.html", {"status": 404,
                                                  "message": "No such FAQ entry."},
                          status_code=404)
    return _form_page(request, entry, [], creating=entry is None)


def _form_page(request: Request, entry: FaqEntry | None, problems: list[str], *,
               creating: bool, status_code: int = 200) -> Response:
    return render(request, "admin/faq_edit.html", {
        "entry": entry, "problems": problems, "creating": creating,
        "active_section": "admin",
        "notice": request.session.pop("admin_notice", None)}, status_code=status_code)


@require_role(Role.ADMIN)
async def faq_save(request: Request) -> Response:
    services = services_of(request)
    form = await request.form()
    creating = request.path_params.get("entry_id") is None
    entry_id = _text(form, "id", 64) if creating else str(request.path_params["entry_id"])
    entry = FaqEntry(id=entry_id, category=_text(form, "category", 64),
                     question=_text(form, "question", 1000),
                     phrasings=_lines(form, "phrasings"), answer=_text(form, "answer"),
                     links=_lines(form, "links"), tags=_lines(form, "tags"),
                     enabled=form.get("enabled") == "on")
    problems = []
    if not ENTRY_ID.match(entry.id):
        problems.append("The id is 2-64 lowercase letters, digits, - or _.")
    if not entry.category or not entry.question or not entry.answer:
        problems.append("Category, question and answer are required.")
    if creating and not problems:
        existing = await services.store.run(services.knowledge.entries)
        if any(e.id == entry.id for e in existing):
            problems.append("An entry with this id exists already.")
    if not problems:
        try:
            await services.store.run(services.knowledge.save, entry)
        except FaqFileError as exc:
            problems = [p.reason for p in exc.problems]
    if problems:
        return _form_page(request, entry, problems, creating=creating, status_code=400)
    request.session["admin_notice"] = "Saved. Suggestions use the change now."
    return RedirectResponse(f"/admin/faq/{entry.id}", status_code=303)


@require_role(Role.ADMIN)
async def faq_toggle(request: Request) -> Response:
    services = services_of(request)
    entry_id = str(request.path_params["entry_id"])
    entries = await services.store.run(services.knowledge.entries)
    entry = next((e for e in entries if e.id == entry_id), None)
    if entry is None:
        return render(request, "error.html", {"status": 404, "message": "No such FAQ entry."},
                      status_code=404)
    changed = FaqEntry(id=entry.id, category=entry.category, question=entry.question,
                       phrasings=entry.phrasings, answer=entry.answer, links=entry.links,
                       tags=entry.tags, enabled=not entry.enabled)
    try:
        await services.store.run(services.knowledge.save, changed)
    except FaqFileError as exc:
        request.session["admin_notice"] = "; ".join(p.reason for p in exc.problems)
    else:
        request.session["admin_notice"] = "Enabled." if changed.enabled else "Disabled."
    return RedirectResponse(f"/admin/faq/{entry_id}", status_code=303)


@require_role(Role.ADMIN, api=True)
async def faq_try(request: Request) -> Response:
    """The matcher's answer to a question, as the consultants would get it."""
    services = services_of(request)
    question = request.query_params.get("q", "").strip()[:1000]
    if not question:
        return JSONResponse({"question": "", "suggestions": []})
    found = await services.store.run(services.knowledge.suggest, question, 5)
    auto = services.knowledge.auto_answer_min
    suggestions: list[dict[str, Any]] = [
        {"entry": s.entry_id, "question": s.question, "answer": s.answer,
         "score": round(s.score, 1), "category": s.category, "phrasing": s.matched_phrasing,
         "automatic": s.score >= auto} for s in found]
    return JSONResponse({"question": question, "suggestions": suggestions,
                         "suggest_min": services.knowledge.suggest_min,
                         "auto_answer_min": auto})


routes = [
    Route("/admin/faq", faq_list, methods=["GET"]),
    Route("/admin/faq", faq_save, methods=["POST"]),
    Route("/admin/faq/new", faq_form, methods=["GET"]),
    Route("/admin/faq/try", faq_try, methods=["GET"]),
    Route("/admin/faq/{entry_id:str}", faq_form, methods=["GET"]),
    Route("/admin/faq/{entry_id:str}", faq_save, methods=["POST"]),
    Route("/admin/faq/{entry_id:str}/toggle", faq_toggle, methods=["POST"]),
]
