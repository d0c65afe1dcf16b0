"""Redis: the embedded server, connections and key names."""
