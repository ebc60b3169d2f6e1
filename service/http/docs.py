"""/docs: Swagger UI served from this origin, from the pinned swagger-ui-bundle package.

The page used to load Swagger UI from a CDN, on the board's origin and without integrity
checks, so a compromised CDN could have read board pages with a nurse's cookie. Now every
script comes from here, the page has no inline script (its start-up is /docs/init.js), and
service.http.headers sends a CSP that allows scripts from this origin only. HOMEWARD_DOCS=off
turns the whole /docs tree (page, assets and document) into 404s.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from litestar import Request, Response, Router, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.params import PathParameter
from swagger_ui_bundle import swagger_ui_path

from service.http.auth import public
from service.http.state import resources

DOCS_PATH = "/docs"
ASSETS = f"{DOCS_PATH}/ui"
# The only files served from the package (its index.html and initializer point elsewhere).
_ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
# Start-up without inline script. validatorUrl null: the default badge calls an outside host.
_INIT_JS = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/docs/openapi.json",
    dom_id: "#swagger-container",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  });
});
"""


class LocalSwagger(SwaggerRenderPlugin):
    def __init__(self) -> None:
        super().__init__(
            js_url=f"{ASSETS}/swagger-ui-bundle.js",
            css_url=f"{ASSETS}/swagger-ui.css",
            standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
            favicon=f"<link rel='icon' type='image/png' href='{ASSETS}/favicon-32x32.png'>",
            style="",
            path=["/", "/swagger"],
        )

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = str(openapi_schema["info"]["title"])
        return (
            "<!DOCTYPE html><html><head>"
            f"<title>{title}</title>{self.favicon}"
            '<meta charset="utf-8"/>'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link href="{self.css_url}" rel="stylesheet">'
            f'<script src="{self.js_url}"></script>'
            f'<script src="{self.standalone_preset_js_url}"></script>'
            f'<script src="{DOCS_PATH}/init.js"></script>'
            "</head><body><div id='swagger-container'></div></body></html>"
        ).encode()


@cache
def _asset(name: str) -> bytes:
    data: bytes = (swagger_ui_path / name).read_bytes()
    return data


@get("/ui/{name:str}", opt=public(), include_in_schema=False, sync_to_thread=False)
def docs_asset(name: Annotated[str, PathParameter()]) -> Response[bytes]:
    media_type = _ASSET_TYPES.get(name)
    if media_type is None:
        raise NotFoundException()
    return Response(
        _asset(name), media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
    )


@get("/init.js", opt=public(), include_in_schema=False, sync_to_thread=False)
def docs_init() -> Response[str]:
    return Response(_INIT_JS, media_type="text/javascript")


async def docs_switch(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if not resources(connection.app.state).settings.docs_enabled:
        raise NotFoundException()


def docs_router() -> Router:
    """The router the OpenAPI config mounts at /docs (the document is public: it holds no
    data). Its guard answers 404 for everything under it when the docs are off."""
    return Router(
        path=DOCS_PATH,
        route_handlers=[docs_asset, docs_init],
        opt=public(),
        include_in_schema=False,
        guards=[docs_switch],
    )
