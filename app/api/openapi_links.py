"""OpenAPI links: how one answer's ids lead to the next calls. Clients and stateful testers
(schemathesis) follow them."""

from typing import Any

# How one answer's ids lead to the next calls (OpenAPI links): clients and stateful testers
# (schemathesis) follow them. (source path, method, status) -> (target path, method, parameters)
_RUN = {"run_id": "$response.body#/run_id"}
_SESSION = {"session_id": "$response.body#/session_id"}
_DOCUMENT = {"document_id": "$response.body#/documents/0/document/id"}
_LINKS: dict[tuple[str, str, str], list[tuple[str, str, dict[str, str]]]] = {
    ("/api/runs", "post", "202"): [
        ("/api/runs/{run_id}", "get", _RUN),
        ("/api/runs/{run_id}/events", "get", _RUN),
        ("/api/runs/{run_id}/cancel", "post", _RUN),
        ("/api/sessions/{session_id}", "get", _SESSION),
    ],
    ("/api/chat", "post", "200"): [
        ("/api/sessions/{session_id}", "get", _SESSION),
        ("/api/sessions/{session_id}", "patch", _SESSION),
        ("/api/sessions/{session_id}", "delete", _SESSION),
    ],
    ("/api/sessions", "get", "200"): [
        ("/api/sessions/{session_id}", "get", {"session_id": "$response.body#/items/0/id"}),
    ],
    ("/api/documents", "post", "201"): [
        ("/api/documents/{document_id}", "get", _DOCUMENT),
        ("/api/documents/{document_id}", "delete", _DOCUMENT),
    ],
}


def add_links(schema: dict[str, Any]) -> None:
    """The links above, on the responses they start from."""
    paths = schema.get("paths", {})
    for (path, method, status), targets in _LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        links = response.setdefault("links", {})
        for target, target_method, parameters in targets:
            pointer = target.replace("~", "~0").replace("/", "~1")
            name = f"{target_method.upper()} {target}".replace("/", "_").replace(" ", "")
            links[name] = {
                "operationRef": f"#/paths/{pointer}/{target_method}",
                "parameters": parameters,
            }
