"""The web process: HTTP API (CONTRACT section 3) and the websocket push hub, on Dash's FastAPI server."""
