"""Do the built dashboards' links resolve? (part of `iiot dashboards check`)

Every dashboard link (header) and data link (a field's `links`) that points into Grafana
(`/d/<uid>…`) must name a built dashboard, set only variables that dashboard has
(`var-<name>=…`) and keep the time range (`${__url_time_range}` in the URL, or keepTime).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

Json = dict[str, object]
DASHBOARD_PATH = re.compile(r"^/d/([^/?#]+)")
TIME_RANGE = "${__url_time_range}"


def links(dashboard: Json) -> Iterator[tuple[str, Json]]:
    """(where, link) for the dashboard's header links and every field's data links."""
    for link in dashboard.get("links") or []:  # type: ignore[attr-defined]
        yield f"dashboard link {link.get('title')!r}", link
    for panel in dashboard.get("panels") or []:  # type: ignore[attr-defined]
        where = f"panel {panel.get('id')} {panel.get('title')!r}"
        config = panel.get("fieldConfig") or {}
        for link in (config.get("defaults") or {}).get("links") or []:
            yield f"{where} data link {link.get('title')!r}", link
        for override in config.get("overrides") or []:
            for prop in override.get("properties") or []:
                if prop.get("id") == "links":
                    for link in prop.get("value") or []:
                        yield f"{where} data link {link.get('title')!r}", link


def variables(dashboard: Json) -> set[str]:
    templating = dashboard.get("templating") or {}
    return {str(v.get("name")) for v in templating.get("list") or []}  # type: ignore[attr-defined]


def link_problems(dashboards: dict[str, Json]) -> list[str]:
    """Links to a dashboard that is not built, or to a variable it lacks; links that drop
    the time range. `dashboards` maps each built uid to its JSON."""
    problems = []
    for uid, dashboard in dashboards.items():
        for where, link in links(dashboard):
            url = str(link.get("url") or "")
            if link.get("type") == "dashboards" or not url:
                continue  # by tags: Grafana lists whatever matches
            match = DASHBOARD_PATH.match(url)
            if not match:
                continue  # outside Grafana's dashboards
            target = match[1]
            if target not in dashboards:
                problems.append(f"{uid} {where}: links to {target!r}, which is not built")
                continue
            query = urlsplit(url).query
            names = [k[4:] for k, _ in parse_qsl(query, keep_blank_values=True)
                     if k.startswith("var-")]  # fmt: skip
            missing = sorted(set(names) - variables(dashboards[target]))
            if missing:
                problems.append(f"{uid} {where}: {target} has no variable {missing}")
            if TIME_RANGE not in url and not link.get("keepTime"):
                problems.append(f"{uid} {where}: drops the time range")
    return list(dict.fromkeys(problems))  # a link on many fields is one finding
