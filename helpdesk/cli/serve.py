"""``tanya-ptsp serve``: the web app, every enabled channel and the outbox in one process."""

from __future__ import annotations

import argparse
import gc
import logging
from pathlib import Path

import uvicorn

from helpdesk.accounts import ensure_admin
from helpdesk.bootstrap import build_services
from helpdesk.cli.common import config_from, open_store
from helpdesk.knowledge import faq_source, load_starter_if_empty
from helpdesk.runners.wiring import wire_channels
from helpdesk.web.app import create_app


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("serve", help="run the help desk")
    parser.add_argument("--host", help="address to listen on (default from the config)")
    parser.add_argument("--port", type=int, help="port to listen on (default from the config)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                                                   "%(message)s")
    config = config_from(args)
    store = open_store(config)
    admin = ensure_admin(store, config.app.admin_email, config.app.admin_password)
    if admin is not None and admin.generated_password:
        print(f"Created the administrator account {admin.email} with the password "
              f"{admin.generated_password}\n(shown once; set {config.app.admin_password_env} "
              f"to choose it yourself)", flush=True)
    services = build_services(config, store=store)
    loaded = load_starter_if_empty(services.knowledge,
                                   faq_source(config.knowledge_base, Path(config.base_dir)))
    if loaded is not None:
        print(f"Loaded {loaded.added} FAQ entries into the empty FAQ base", flush=True)
    wire_channels(services)
    app = create_app(services, background=True)
    host = args.host or config.server.host
    port = args.port or config.server.port
    print(f"Tanya PTSP is serving on http://{host}:{port}/ "
          f"(database: {store.url.render_as_string(hide_password=True)})", flush=True)
    # Everything built so far (modules, the FAQ matcher, templates) lives as long
    # as the server: kept out of the collector's full passes, which otherwise
    # walk those objects again and again and stall replies for a few hundred ms.
    gc.collect()
    gc.freeze()
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info",
                                           proxy_headers=True, ws="websockets-sansio"))
    try:
        server.run()
    finally:
        services.close()
    return 0
