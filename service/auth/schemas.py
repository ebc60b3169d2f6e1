from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from service.users.schemas import UserOut


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(min_length=1, max_length=320)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class LoginResponse(msgspec.Struct):
    access_token: str
    token_type: Literal["bearer"]
    expires_at: datetime
    user: UserOut
