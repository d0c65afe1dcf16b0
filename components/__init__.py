"""Dash layout pieces for the screens: small pure functions of their arguments, no callbacks, no I/O.

Live numbers are placeholders ("—") carrying `data-metric`; the browser fills them in place as frames arrive.
"""
