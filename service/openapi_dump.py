"""Write the app's OpenAPI document: `python -m service.openapi_dump openapi/openapi.json`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from service.app import create_app
from service.settings import Settings


def build_document() -> dict[str, Any]:
    # No database is touched: the engine is created lazily and never connected here.
    app = create_app(
        Settings(database_url="postgresql://unused@localhost/unused", jwt_secret="x" * 32)
    )
    document: dict[str, Any] = app.openapi_schema.to_schema()
    return document


def render() -> str:
    return json.dumps(build_document(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "openapi/openapi.json")
    target.write_text(render())
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
