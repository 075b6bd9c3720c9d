"""The Starlette application: `/graphql` (GraphiQL in development) and `/healthz`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dramatiq import Broker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from backend.database import Database
from backend.graphql.context import Context
from backend.graphql.schema import build_schema
from backend.identity.principal import resolve_principal
from backend.identity.throttle import LoginThrottle
from backend.identity.tokens import decode_access_token
from backend.scheduling.calendar import calendar_route
from backend.settings import Settings
from backend.workers.broker import broker_url, make_broker
from backend.workers.runner import start_worker


class EnsembleGraphQL(GraphQL[Context, None]):
    def __init__(self, settings: Settings, db: Database, throttle: LoginThrottle, broker: Broker) -> None:
        super().__init__(
            build_schema(production=settings.production),
            graphql_ide=None if settings.production else "graphiql",
            allow_queries_via_get=False,
        )
        self.settings = settings
        self.db = db
        self.throttle = throttle
        self.broker = broker

    async def get_context(self, request: Request | WebSocket, response: Response | None = None) -> Context:  # type: ignore[override]
        principal = None
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            claims = decode_access_token(self.settings.secret_key, header[7:].strip())
            if claims is not None:
                principal = await resolve_principal(self.db.async_engine, claims)
        client = request.client.host if request.client else None
        return Context(
            request=request if isinstance(request, Request) else None,
            settings=self.settings,
            db=self.db,
            principal=principal,
            client_address=client,
            throttle=self.throttle,
            broker=self.broker,
        )


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_app(
    settings: Settings,
    db: Database,
    throttle: LoginThrottle | None = None,
    broker: Broker | None = None,
    with_worker: bool = False,
) -> Starlette:
    """The app; `throttle` and `broker` default to ones on the configured (or embedded) Redis.

    `with_worker` runs a Dramatiq worker and the outbox drainer for the app's lifetime (the
    development server), stopped during shutdown so in-flight messages finish.
    """
    login_throttle = throttle or LoginThrottle.from_settings(settings)
    outbox_broker = broker or make_broker(broker_url(settings), engine=db.engine)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        running = start_worker(settings) if with_worker else None
        try:
            yield
        finally:
            if running is not None:
                await asyncio.to_thread(running.stop)
            await login_throttle.aclose()

    graphql = EnsembleGraphQL(settings, db, login_throttle, outbox_broker)
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            # Staff calendar feeds: the URL's secret token stands in for sign-in (calendar apps can't).
            Route("/calendar/{clinic_slug}/{token}", calendar_route),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.throttle = login_throttle
    return app
