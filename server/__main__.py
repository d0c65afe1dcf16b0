"""The web process on its own (for scale-out): `python -m server --redis-url URL [--port N]`."""
from app import build, serve
from settings import Settings

settings = Settings.from_args()
if not settings.redis_url:
    raise SystemExit("--redis-url (or LIVEWALL_REDIS_URL) is required when the web process runs on its own")
serve(build(settings.redis_url, settings.ingest_token), settings.host, settings.port)
