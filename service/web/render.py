"""Templates: Jinja2 with autoescape always on, and filters that show time in the ward's zone."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from db.models.escalations import STAFF_OUTCOMES
from service.phones import for_reading
from service.refs import escalation_ref

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def local_time(value: datetime | None, tz: ZoneInfo, fmt: str = "%a %d %b %H:%M") -> str:
    """A stored UTC instant as the ward's wall clock."""
    if value is None:
        return ""
    return value.astimezone(tz).strftime(fmt)


def duration(seconds: float) -> str:
    """Compact and unambiguous: '2 h 05 min', '12 min', '45 s'."""
    seconds = abs(int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def time_left(deadline: datetime | None, now: datetime) -> dict[str, Any]:
    """What a countdown cell needs: the words, and whether the deadline has passed."""
    if deadline is None:
        return {"text": "", "overdue": False, "soon": False}
    seconds = (deadline - now).total_seconds()
    if seconds < 0:
        return {"text": f"overdue by {duration(seconds)}", "overdue": True, "soon": False}
    return {"text": f"{duration(seconds)} left", "overdue": False, "soon": seconds < 3600}


def humanise(value: str | None) -> str:
    return (value or "").replace("_", " ")


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # every value is escaped; nothing in these templates is marked safe
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local"] = local_time
    env.filters["humanise"] = humanise
    env.filters["ref"] = escalation_ref
    # A stored E.164 number as a person dials it (crisis contacts on the plan, HW-37).
    env.filters["dial"] = for_reading
    env.globals["time_left"] = time_left
    env.globals["resolution_outcomes"] = STAFF_OUTCOMES
    return env


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment()))
