"""The /assistant/<room> page: the streamer assistant's tablet (场控/助播), one room, touch only.

What the person beside the camera needs at arm's length: the product on stage (price, stock, sales, conversion,
time on stage), the room's four key numbers, what to bring back (返场), and the alerts they must act on, each
with a big acknowledge button. Like the wall, the page is a fixed set of empty slots the browser fills with
text from pushed frames (assets/assistant.js); nothing here depends on data.
"""
from __future__ import annotations

from dash import dcc, html

from components.alerts import Banner, ToastArea
from components.header import Field, Freshness
from components.i18n import T
from components.tiles import EMPTY, Metric

CONFIG_ID = "assistant-config"
BOOT_ID = "assistant-boot"    # the output of the clientside start (Dash runs callbacks of new content by their outputs)
RERUN_ROWS = 3
COMMENT_ROWS = 8              # the browser fills at most this many; CSS hides what does not fit


def Act(label: str, action: str, className: str = "", sku: str | None = None) -> html.Button:
    """A button of the tablet's actions (assets/assistant-actions.js acts on its `data-action`); shown only to
    those who may act on the room."""
    extra = {"data-sku": sku} if sku is not None else {}
    return html.Button(T(label), type="button", className=f"lw-as-act {className}".strip(),
                       **{"data-action": action}, **extra)


def Fact(label: str, value, className: str = "") -> html.Div:
    """One labelled figure of the on-stage card: label above, big number below."""
    return html.Div([html.Div(T(label), className="lw-as-fact-label"), value],
                    className=f"lw-as-fact {className}".strip())


def AssistantHeader(room: str) -> html.Header:
    return html.Header([
        html.Span(className="lw-as-dot"),
        html.Span(room, className="lw-as-room"),
        Field("platform", "lw-as-platform"),
        html.Div([Field("title", "lw-as-title"), Field("streamer", "lw-as-streamer")], className="lw-as-session"),
        html.Span(className="lw-as-act-status", role="status", **{"aria-live": "polite"}),
        html.Span([html.Span(T("started_for"), className="lw-as-elapsed-label"), " ", Field("elapsed", "lw-as-elapsed")],
                  className="lw-as-elapsed-box"),
        Freshness(),
        Field("clock", "lw-as-clock"),
    ], className="lw-as-header")


def StockBox() -> html.Div:
    """Stock with its warning underneath; `data-level` (ok, low, out, over, unknown) colours the box."""
    warnings = html.Div([html.Span(T(f"as_stock_{level}"), className=f"lw-as-stock-warn lw-as-warn-{level}")
                         for level in ("low", "out", "over", "unknown")], className="lw-as-stock-warns")
    # sold out: the two ways on, right where the assistant reads it
    sold_out = html.Div([Act("as_switch", "open-products", "lw-as-act-switch"),
                         Act("as_restock", "restock", "lw-as-act-restock")], className="lw-as-soldout-acts")
    return html.Div([html.Div(T("stock"), className="lw-as-fact-label"),
                     Metric("products.stock", "stock", "lw-as-stock-value"), warnings, sold_out],
                    className="lw-as-stock", **{"data-level": "unknown"})


def StageCard() -> html.Section:
    """The product being presented now; `data-sku` names it, empty when nothing is on stage."""
    price = html.Span(EMPTY, className="lw-num lw-as-price", **{"data-metric": "products.price", "data-fmt": "price"})
    stage_time = html.Span(EMPTY, className="lw-num lw-as-stage-time",
                           **{"data-metric": "products.stage_seconds", "data-fmt": "dur"})
    # each number keeps its unit on its line ("52 人买" never leaves "买" alone on a narrow phone)
    cvr_sub = html.Div([html.Span([Metric("products.clickers", "int"), html.Span(T("as_clickers"))], className="lw-nobr"),
                        " ",
                        html.Span([Metric("products.buyers", "int"), html.Span(T("as_buyers"))], className="lw-nobr")],
                       className="lw-as-fact-sub")
    return html.Section([
        html.Div([html.Span(T("on_stage"), className="lw-as-badge"),
                  html.Span([html.Span(T("as_stage_for")), " ", stage_time], className="lw-as-stage-for"),
                  html.Div([Act("as_products", "open-products", "lw-as-act-pick"),
                            Act("as_restock", "restock", "lw-as-act-restock"),
                            Act("as_take_off", "take-off", "lw-as-act-off")], className="lw-as-stage-acts")],
                 className="lw-as-stage-head"),
        Field("onstage_name", "lw-as-name"),
        html.Div([html.Div(T("as_price"), className="lw-as-fact-label"), price], className="lw-as-price-box"),
        StockBox(),
        html.Div([
            Fact("as_sold_units", Metric("products.units", "int", "lw-as-fact-value")),
            Fact("as_product_gmv", Metric("products.gmv", "money", "lw-as-fact-value")),
            Fact("as_product_cvr", html.Div([Metric("products.cvr", "pct", "lw-as-fact-value"), cvr_sub])),
        ], className="lw-as-facts"),
        html.Div(T("nothing_on_stage"), className="lw-as-none"),
        html.Div(T("as_waiting"), className="lw-as-waiting"),
    ], className="lw-as-stage", **{"data-sku": ""})


def Kpi(key: str, label: str, name: str, fmt: str, sub: list) -> html.Div:
    return html.Div([html.Div(T(label), className="lw-as-kpi-label"), Metric(name, fmt, "lw-as-kpi-value"),
                     html.Div(sub, className="lw-as-kpi-sub")], className="lw-as-kpi", **{"data-kpi": key})


def KpiGrid() -> html.Section:
    return html.Section([
        Kpi("gmv", "gmv", "gmv", "money-tile", [html.Span(T("last_5m")), " ", Metric("windows.300.gmv", "money-tile")]),
        Kpi("online", "online", "online", "int", [html.Span(T("peak")), " ", Metric("peak_online", "int")]),
        Kpi("orders", "orders", "orders", "int", [html.Span(T("paid")), " ", Metric("paid_orders", "int")]),
        # what the two counts under the rate are: buyers over product clickers (CONTRACT section 2: cvr)
        Kpi("cvr", "as_room_cvr", "cvr", "pct", [Metric("buyers", "int"), " / ", Metric("product_clickers", "int")]),
    ], className="lw-as-kpis")


def Panel(key: str, title: str, body: list, extra=None) -> html.Section:
    head = [html.H2(T(title), className="lw-as-panel-title")]
    if extra is not None:
        head.append(extra)
    return html.Section([html.Div(head, className="lw-as-panel-head")] + body, className=f"lw-as-panel lw-as-{key}")


def AlertPanel() -> html.Section:
    """The toasts of lw.Alerts live here, in the flow of the page: on a tablet an alert must not cover the
    product the assistant is reading, and a short list with big buttons is easier to work through by touch."""
    count = html.Span(className="lw-as-alert-count", **{"data-field": "alert_count"})
    # a warning's toast fades after a while, but while its alert is open it stays listed here, ack button and all
    still_open = html.Div(className="lw-as-open-list")
    return Panel("alerts", "as_needs_action",
                 [ToastArea(), still_open, html.Div(T("all_clear"), className="lw-as-all-clear")], extra=count)


def RerunPanel() -> html.Section:
    rows = [html.Div([html.Span(str(i + 1), className="lw-as-rerun-rank"),
                      html.Div([Field("rerun_name", "lw-as-rerun-name"), Field("rerun_reason", "lw-as-rerun-reason")],
                               className="lw-as-rerun-text"),
                      Act("as_put_on", "put-on-stage", "lw-as-act-put", sku="")],
                     className="lw-as-rerun-row is-empty", **{"data-slot": str(i), "data-sku": ""})
            for i in range(RERUN_ROWS)]
    empty = html.Div(T("no_rerun"), className="lw-as-empty")
    return Panel("rerun", "rerun", [html.Div(rows + [empty], className="lw-as-rerun-rows", **{"data-empty": "1"})])


def Picker() -> html.Div:
    """Any product of the session, found by name or sku and paged (GET /api/rooms/<room>/products?q=), each
    with its put-on-stage button; opened by "pick a product" or a sold-out card's "switch product"."""
    return html.Div(html.Div([
        html.Div([html.H2(T("as_picker_title"), className="lw-as-picker-title"),
                  Act("as_close", "close-products", "lw-as-act-close")], className="lw-as-picker-head"),
        html.Div(className="lw-as-picker-search"),   # the search box: a plain <input> the script makes
        html.Ul(className="lw-as-picker-list"),
        html.Div([Act("as_prev", "page-prev", "lw-as-act-page"), html.Span(className="lw-as-picker-page"),
                  Act("as_next", "page-next", "lw-as-act-page")], className="lw-as-picker-foot"),
    ], className="lw-as-picker-box", role="dialog"), className="lw-as-picker", hidden=True)


def Confirm() -> html.Div:
    """Taking a product off stage interrupts the pitch: one more tap, on a button that says so."""
    return html.Div(html.Div([
        html.P(className="lw-as-confirm-text"),
        html.Div([Act("as_cancel", "cancel-off", "lw-as-act-cancel"),
                  Act("as_confirm_off", "confirm-off", "lw-as-act-confirm")], className="lw-as-confirm-acts"),
    ], className="lw-as-confirm-box", role="alertdialog"), className="lw-as-confirm", hidden=True)


def CommentPanel() -> html.Section:
    return Panel("comments", "comments", [html.Ul(className="lw-as-comment-list")])


def AssistantPage(config: dict) -> html.Div:
    """`config`: room, lang ("zh", "en" or None for the browser's), user (who has the page open), sound (bool)."""
    room = config["room"]
    stage = html.Div([
        AssistantHeader(room),
        StageCard(),
        KpiGrid(),
        html.Div([AlertPanel(), RerunPanel(), CommentPanel()], className="lw-as-side"),
    ], className="lw-as-body", **{"data-room": room, "data-state": "waiting"})
    return html.Div([dcc.Store(id=CONFIG_ID, data=config), html.Div(id=BOOT_ID, hidden=True), stage, Picker(),
                     Confirm(), Banner()],
                    id="assistant", className=f"lw-assistant lang-{config.get('lang') or 'auto'}",
                    **{"data-conn": "connecting"})


def InvalidRoomPage(given: str, lang: str | None) -> html.Div:
    """A link with a bad room name gets this, not an error: the name as given (as text), the rule, a way out."""
    return html.Div(html.Div([
        html.H1(T("as_invalid_title")),
        html.P(given, className="lw-as-given"),
        html.P(T("as_invalid_rule")),
        html.P(T("as_invalid_hint")),
        html.A(T("as_home"), href="/", className="lw-as-home"),
    ], className="lw-as-invalid-box"), id="assistant", className=f"lw-assistant lw-as-invalid lang-{lang or 'auto'}",
        **{"data-invalid": "room"})
