"""Per-room state and the metric definitions of CONTRACT section 2."""
