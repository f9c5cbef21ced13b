"""The public page behind the signed links in our emails: "did the FAQ answer
help?" and the 1-5 satisfaction rating.

Opening the link only shows what it will record, with one button to confirm:
mail scanners open every link in a message, and a GET that changed a ticket
would let them answer for the resident.
"""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from helpdesk.bootstrap import Services
from helpdesk.signed_links import Answer, BadLink

_PAGE = """<!doctype html>
<html lang="id"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}
button{{font-size:1.1rem;padding:.6rem 1.4rem}}</style></head>
<body><h1>{title}</h1>{body}</body></html>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body), status_code=status,
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _question(answer: Answer) -> str:
    if answer.kind == "faq":
        said = "membantu" if answer.value == "yes" else "tidak membantu"
        return f"Jawaban untuk tiket {answer.ticket} {said}."
    return f"Penilaian Anda untuk tiket {answer.ticket}: {answer.value} dari 5."


async def show(request: Request) -> Response:
    services: Services = request.app.state.services
    token = request.path_params["token"]
    try:
        answer = services.decisions.links.verify(token, services.clock())
    except BadLink as exc:
        return _page("Tautan tidak berlaku", f"<p>{html.escape(str(exc))}</p>", 400)
    body = (f"<p>{html.escape(_question(answer))}</p>"
            f'<form method="post"><button type="submit">Kirim</button></form>')
    return _page("Terima kasih atas tanggapan Anda", body)


async def confirm(request: Request) -> Response:
    services: Services = request.app.state.services
    token = request.path_params["token"]
    policy = services.decisions.policy
    try:
        result = await services.store.run(policy.apply_link, services.store, token,
                                          services.clock())
    except BadLink as exc:
        return _page("Tautan tidak berlaku", f"<p>{html.escape(str(exc))}</p>", 400)
    if result.outcome == "resolved":
        text = "Senang dapat membantu. Tiket Anda kami tutup."
    elif result.outcome == "handed_over":
        text = "Pertanyaan Anda kami teruskan kepada petugas; kami akan segera membalas."
    else:
        text = "Tanggapan Anda telah kami catat."
    return _page("Terima kasih", f"<p>{html.escape(text)}</p>")


def routes() -> list[BaseRoute]:
    return [Route("/f/{token}", show, methods=["GET"]),
            Route("/f/{token}", confirm, methods=["POST"])]
