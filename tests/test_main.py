"""The application as a browser on another origin sees it, when CORS is configured."""

from __future__ import annotations

from tests.conftest import MakeSettings
from tests.support.server import serve

ORIGIN = "http://app.example"


async def test_a_listed_origin_may_send_what_client_libraries_send_and_read_our_headers(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(server={"cors_origins": [ORIGIN]})
    async with serve(settings) as server, server.client() as client:
        # OpenAI's browser SDK adds headers of its own to every request.
        preflight = await client.options(
            "/v1/chat/completions",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type, x-stainless-os",
            },
        )
        assert preflight.status_code == 200, preflight.text
        allowed = preflight.headers["access-control-allow-headers"].lower()
        assert "x-stainless-os" in allowed

        # The AI SDK's stream header and our ids are readable by the page.
        idle = await client.get("/api/ai-sdk/chat/idle-chat/stream", headers={"Origin": ORIGIN})
        assert idle.status_code == 204
        exposed = idle.headers["access-control-expose-headers"].lower()
        assert "x-vercel-ai-ui-message-stream" in exposed
        assert "x-run-id" in exposed

        # Another origin is not let in.
        other = await client.options(
            "/v1/chat/completions",
            headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert other.status_code == 400
