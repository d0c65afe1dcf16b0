"""The wiring of each screen: one module per screen, registered here."""
from dash import Dash, html, register_page


def register(app: Dash) -> None:
    register_page("home", path="/", layout=html.Div([html.H1("livewall"), html.A("wall", href="/wall")]))
