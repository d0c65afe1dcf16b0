"""The web process on its own (for scale-out): `python -m server --redis-url URL [--port N]`."""
from server import asgi
from settings import Settings, refuse_open_listening

settings = Settings.from_args()
refuse_open_listening(settings)
if not settings.redis_url:
    raise SystemExit("--redis-url (or LIVEWALL_REDIS_URL) is required when the web process runs on its own")
asgi.serve(asgi.build(settings.redis_url, settings.ingest_token, settings.allowed_hosts,
                      data_dir=settings.data_dir, ended_grace_minutes=settings.ended_grace_minutes),
           settings.host, settings.port)
