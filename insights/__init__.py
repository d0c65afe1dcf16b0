"""Ad-spend suggestions, re-run recommendations, risk rules and alerts, and the session review."""
