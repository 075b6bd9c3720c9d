"""The Starlette application: `/graphql` (GraphiQL in development) and `/healthz`."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
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
from backend.identity.tokens import decode_access_token
from backend.settings import Settings


class EnsembleGraphQL(GraphQL[Context, None]):
    def __init__(self, settings: Settings, db: Database) -> None:
        super().__init__(
            build_schema(production=settings.production),
            graphql_ide=None if settings.production else "graphiql",
            allow_queries_via_get=False,
        )
        self.settings = settings
        self.db = db

    async def get_context(self, request: Request | WebSocket, response: Response | None = None) -> Context:  # type: ignore[override]
        principal = None
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            claims = decode_access_token(self.settings.secret_key, header[7:].strip())
            if claims is not None:
                async with AsyncSession(self.db.async_engine) as session:
                    principal = await resolve_principal(session, claims)
        client = request.client.host if request.client else None
        return Context(
            request=request if isinstance(request, Request) else None,
            settings=self.settings,
            db=self.db,
            principal=principal,
            client_address=client,
        )


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_app(settings: Settings, db: Database, **state: Any) -> Starlette:
    graphql = EnsembleGraphQL(settings, db)
    app = Starlette(routes=[Route("/graphql", graphql, methods=["GET", "POST"]), Route("/healthz", healthz)])
    app.state.settings = settings
    app.state.db = db
    for key, value in state.items():
        setattr(app.state, key, value)
    return app
