"""Everything that produces or carries events: schema, ingest, publisher, simulator, replay."""
