"""The /manager page: every room side by side, one room's drill-down, ad-spend suggestions to approve, alerts,
and the review of a finished session (复盘).

Everything a room shows is cloned in the browser from a hidden template (rooms appear while the page is open),
and every live number is a `data-metric` span, as on the wall. Labels are static and bilingual; the browser
writes numbers and data (names, reasons) as text only.
"""
from __future__ import annotations

from dash import dcc, html

from components.alerts import Banner, ToastArea
from components.audience import AudienceBox, ChannelBox
from components.header import Field
from components.i18n import T
from components.panels import Funnel, Sources
from components.tiles import KpiTile, Metric

CONFIG_ID = "manager-config"
BOOT_ID = "manager-boot"


# (column key, label, [(metric, format[, Metric options]), ...]) of a room's row; two metrics in one cell read
# "a / b". Money columns share one unit down the column (place); paid ROI is coloured against the target beside it.
ROOM_COLUMNS = (
    ("gmv", "m_gmv", [("gmv", "money-tile", {"place": "m-rooms-gmv"})]),
    ("online", "m_online", [("online", "int")]),
    ("viewers", "m_viewers", [("viewers", "int")]),
    ("orders", "m_orders", [("orders", "int"), ("paid_orders", "int")]),
    ("cvr", "m_cvr", [("cvr", "pct")]),
    ("paid_roi", "m_paid_roi_col", [("paid_roi", "ratio", {"judge": "target_roi"}), ("target_roi", "target")]),
    ("roi", "m_roi_overall", [("roi", "ratio")]),
    ("spend", "m_spend", [("ad_spend", "money-tile", {"place": "m-rooms-spend"})]),
    ("bounce", "m_bounce", [("bounce_2s_rate", "pct")]),
)
# (product field, label, format) of the drill-down's product table, after rank and name
PRODUCT_COLUMNS = (
    ("price", "m_price", "price"),
    ("stock", "m_stock", "stock"),
    ("viewers", "m_views", "int"),
    ("clickers", "m_clicks", "int"),
    ("ctr", "m_ctr", "pct"),
    ("cvr", "m_cvr_short", "pct"),
    ("units", "m_units", "int"),
    ("gmv", "m_gmv", "money-tile"),
)
PRODUCT_PAGE_SIZES = (25, 50, 100)   # the first page of 25 is the live frame's (it carries 30)
# (profit field, label) of a review, in the order a profit and loss statement reads
PROFIT_FIELDS = (
    ("gmv", "m_p_gmv"),
    ("refund_amount", "m_p_refund"),
    ("net_gmv", "m_p_net"),
    ("cost_of_goods", "m_p_cogs"),
    ("ad_spend", "m_p_spend"),
    ("gross_profit", "m_p_profit"),
    ("roi", "m_p_roi"),
    ("gross_profit_known", "m_p_profit_known"),
    ("cost_coverage", "m_p_coverage"),
    ("break_even_roi", "m_p_breakeven"),
)
# (product field, label, sortable on the server) of the review's product table, after the name
REVIEW_PRODUCT_COLUMNS = (("price", "m_price", True), ("units", "m_units", True), ("buyers", "m_buyers", True),
                          ("ctr", "m_ctr", True), ("cvr", "m_cvr_short", True), ("gmv", "m_gmv", True),
                          ("cost", "m_cost", False), ("profit", "m_margin", True), ("stock", "m_stock", True))
# (segment field, label) of the review's stage segments (讲解); room.* are the room's figures during the segment
REVIEW_SEGMENT_COLUMNS = (("start", "m_seg_start"), ("seconds", "m_seg_length"), ("views", "m_views"),
                          ("clicks", "m_clicks"), ("ctr", "m_ctr"), ("cvr", "m_cvr_short"), ("units", "m_units"),
                          ("gmv", "m_gmv"), ("room.avg_online", "m_seg_online"),
                          ("room.bounce_2s_rate", "m_seg_bounce"), ("room.avg_dwell_s", "m_seg_dwell"),
                          ("room.gpm", "m_seg_gpm"))
EXPORT_FORMATS = (("csv", "m_export_csv"), ("xlsx", "m_export_xlsx"), ("html", "m_export_html"))


def Box(key: str, title: str, body, extra=None) -> html.Section:
    head = [html.H2(T(title), className="lw-m-box-title")]
    if extra is not None:
        head.append(extra)
    return html.Section([html.Div(head, className="lw-m-box-head"), body], className=f"lw-m-box lw-m-{key}")


def Cell(key: str, label: str, metrics) -> html.Div:
    nums = []
    for i, (name, fmt, *options) in enumerate(metrics):
        if i:
            nums.append(html.Span(" / ", className="lw-m-sep"))
        nums.append(Metric(name, fmt, **(options[0] if options else {})))
    return html.Div([html.Span(T(label), className="lw-m-cell-label"), html.Span(nums, className="lw-m-cell-value")],
                    className="lw-m-cell", **{"data-col": key})


def RoomRow() -> html.A:
    """One room in the overview; the template the browser clones for each room (a link: it opens the room)."""
    ident = html.Div([
        html.Div([html.Span(className="lw-live-dot"), Field("room", "lw-m-room-name"),
                  Field("platform", "lw-platform")], className="lw-m-ident-line"),
        Field("title", "lw-m-room-title"),
    ], className="lw-m-ident")
    state = html.Div(Field("fresh", "lw-m-fresh"), className="lw-m-state")
    cells = [Cell(key, label, metrics) for key, label, metrics in ROOM_COLUMNS]
    alerts = html.Div([html.Span(T("m_alerts"), className="lw-m-cell-label"), Field("alerts", "lw-m-alert-count", "0")],
                      className="lw-m-cell", **{"data-col": "alerts"})
    return html.A([ident, state, *cells, alerts, html.Span("›", className="lw-m-chevron")],
                  className="lw-m-row", href="#", **{"data-template": "room", "data-alerts": "0"})


def SortHead(key: str, label: str) -> html.Span:
    """A column's header: a button that sorts the rooms by it (assets/manager-rooms.js), again to reverse."""
    return html.Span(html.Button(T(label), type="button", className="lw-m-sort", **{"data-sort": key}),
                     role="columnheader", **{"data-col": key, "aria-sort": "none"})


def RoomsTable() -> html.Section:
    head = html.Div([SortHead("room", "m_room"), SortHead("state", "m_state")]
                    + [SortHead(key, label) for key, label, _ in ROOM_COLUMNS]
                    + [SortHead("alerts", "m_alerts"), html.Span()],
                    className="lw-m-row lw-m-row-head", role="row")
    body = html.Div([html.Div(T("m_no_rooms"), className="lw-m-empty lw-m-rows-empty")], className="lw-m-rows")
    group = html.Button(T("m_group_platform"), type="button", className="lw-m-group-toggle",
                        **{"aria-pressed": "false"})
    foot = html.Div([html.Span(T("m_bounce_note")), group, html.Span(T("m_open_hint"), className="lw-m-hint")],
                    className="lw-m-footnote")
    # the template of a platform's header row when the rooms are grouped: its name and subtotals
    group_row = html.Div([Field("platform", "lw-platform"), Field("group_rooms", "lw-m-group-rooms"),
                          html.Span([html.Span(T("m_gmv")), " ", Field("group_gmv", "lw-m-group-num")]),
                          html.Span([html.Span(T("m_online")), " ", Field("group_online", "lw-m-group-num")]),
                          html.Span([html.Span(T("m_orders")), " ", Field("group_orders", "lw-m-group-num")]),
                          html.Span([html.Span(T("m_spend")), " ", Field("group_spend", "lw-m-group-num")])],
                         className="lw-m-group", **{"data-template": "group"})
    return html.Section([html.Div([RoomRow(), group_row], className="lw-m-templates"), head, body, foot],
                        className="lw-m-overview")


def SessionsByDate() -> html.Section:
    """Every room's sessions in a date range (assets/manager-dates.js builds the date pickers and the rows)."""
    head = html.Tr([html.Th(T("m_dates_start")), html.Th(T("m_room"), className="lw-m-col-name"),
                    html.Th(T("m_dates_title"), className="lw-m-col-name"), html.Th(T("m_seg_length")),
                    html.Th(T("m_gmv")), html.Th()])
    body = html.Div([html.Div([html.Div(className="lw-m-dates-tools"), html.Span(className="lw-m-dates-status")],
                              className="lw-m-dates-bar"),
                     html.Div(html.Table([html.Thead(head), html.Tbody()], className="lw-m-table"),
                              className="lw-m-table-wrap lw-m-dates-wrap")])
    return Box("dates", "m_dates", body)


def DetailHead() -> html.Div:
    return html.Div([
        html.Button(T("m_back"), className="lw-m-back", type="button"),
        html.Div([html.Span(className="lw-live-dot"), Field("room", "lw-m-detail-room"),
                  Field("platform", "lw-platform"), Field("fresh", "lw-m-fresh")], className="lw-m-ident-line"),
        html.Div([Field("title", "lw-m-detail-title"), Field("streamer", "lw-m-detail-streamer")],
                 className="lw-m-detail-session"),
        html.A(T("m_open_wall"), className="lw-m-wall-link", href="/wall", target="_blank", rel="noopener"),
    ], className="lw-m-detail-head")


def DetailKpis() -> html.Div:
    return html.Div([
        KpiTile("gmv", "m_gmv", "gmv", "money", tone="lw-m-gold",
                sub=[html.Span(T("m_net")), " ", Metric("net_gmv", "money", scale="gmv"), " · ",
                     html.Span(T("m_refunds")), " ", Metric("refund_amount", "money", scale="gmv")]),
        KpiTile("online", "online", "online", "int", tone="lw-accent-cyan",
                sub=[html.Span(T("peak")), " ", Metric("peak_online", "int")]),
        KpiTile("viewers", "viewers", "viewers", "int", sub=[Metric("visits", "int"), html.Span(T("visits"))]),
        KpiTile("avg_dwell", "avg_dwell", "avg_dwell_s", "dur"),
        KpiTile("bounce", "bounce", "bounce_2s_rate", "pct", note="m_bounce_own"),
        KpiTile("orders", "orders", "orders", "int", sub=[Metric("paid_orders", "int"), " ", html.Span(T("paid"))]),
        KpiTile("buyers", "buyers", "buyers", "int", sub=[Metric("units", "int"), " ", html.Span(T("units"))]),
        KpiTile("cvr", "m_cvr_label", "cvr", "pct", sub=[html.Span(T("m_ctr_sub")), " ", Metric("ctr", "pct")]),
        KpiTile("gpm", "gpm_label", "gpm", "money",
                sub=[html.Span(T("divided_by")), Metric("visits", "int"), html.Span(T("visits"))]),
        KpiTile("uv_value", "uv_value", "uv_value", "money",
                sub=[html.Span(T("divided_by")), Metric("viewers", "int"), html.Span(T("viewers_unit"))]),
        KpiTile("ad_spend", "m_ad_spend_label", "ad_spend", "money"),
        # paid ROI is what the target is about: coloured against it; the overall ROI counts organic GMV too
        KpiTile("paid_roi", "m_paid_roi_label", "paid_roi", "ratio", judge="target_roi",
                sub=[html.Span(T("m_target")), " ", Metric("target_roi", "target")]),
        KpiTile("roi", "m_roi_overall", "roi", "ratio", sub=[html.Span(T("roi_overall_note"))]),
    ], className="lw-m-kpis")


def ProductTable() -> html.Section:
    head = html.Tr([html.Th("#"), html.Th(T("product"), className="lw-m-col-name")]
                   + [html.Th(T(label), **{"data-col": field}) for field, label, _ in PRODUCT_COLUMNS])
    template = html.Tr([html.Td(className="lw-m-rank"),
                        html.Td([html.Span(className="lw-m-stage-mark"), Field("products.name", "lw-m-product-name")],
                                className="lw-m-col-name")]
                       + [html.Td(Metric(f"products.{field}", fmt,
                                         place=f"m-products-{field}" if fmt == "money-tile" else None),
                                  **{"data-col": field})
                          for field, _label, fmt in PRODUCT_COLUMNS],
                       className="lw-m-product", **{"data-template": "product", "data-sku": ""})
    count = html.Span([Field("product_shown", "lw-m-count"), " / ", Field("product_count", "lw-m-count"), " SKU"],
                      className="lw-m-box-extra")
    table = html.Div(html.Table([html.Thead(head), html.Tbody(template)], className="lw-m-table"),
                     className="lw-m-table-wrap")
    # search (sku or name) and pages over every product of the session (GET /api/rooms/<room>/products?q=)
    sizes = html.Label([html.Span(T("m_page_size")), " ",
                        html.Select([html.Option(str(n), value=str(n)) for n in PRODUCT_PAGE_SIZES],
                                    className="lw-m-page-size")],
                       className="lw-m-page-size-box")
    tools = html.Div([
        html.Label([html.Span(T("m_search_products"), className="lw-m-search-label"),
                    html.Span(className="lw-m-product-search")], className="lw-m-search-box"),
        html.Div([html.Button(T("m_prev"), type="button", className="lw-m-btn lw-m-page-prev"),
                  Field("product_page", "lw-m-page-text"),
                  html.Button(T("m_next"), type="button", className="lw-m-btn lw-m-page-next"), sizes],
                 className="lw-m-pager"),
    ], className="lw-m-product-tools")
    empty = html.Div(className="lw-m-empty lw-m-product-none", hidden=True)
    return Box("products", "m_products", html.Div([tools, table, empty]), extra=count)


def ReviewPanel() -> html.Div:
    """Filled by the browser when a session is clicked; `data-profit` cells carry their raw value too. The
    products are a server-paged table (search, sort by a column, page n of m); exports are plain links."""
    profit = html.Div([html.Div([html.Div(T(label), className="lw-m-fig-label"),
                                 html.Div("—", className="lw-m-fig-value", **{"data-profit": field})],
                                className="lw-m-fig", **{"data-fig": field}) for field, label in PROFIT_FIELDS],
                      className="lw-m-profit")
    actions = html.Div([html.Span(T("m_export"), className="lw-m-export-label")]
                       + [html.A(T(label), className="lw-m-export", href="#", download="",
                                 **{"data-format": fmt}) for fmt, label in EXPORT_FORMATS]
                       + [html.Button(T("m_print"), className="lw-m-print", type="button")],
                       className="lw-m-review-actions")
    late = html.Div([html.H3(T("m_late")), Field("late_note", "lw-m-late-note")], className="lw-m-late", hidden=True)
    compare_head = html.Tr([html.Th(T("m_cmp_figure"), className="lw-m-col-name"), html.Th(T("m_cmp_this")),
                            html.Th(T("m_cmp_base")), html.Th(T("m_cmp_change"))])
    compare = html.Div([
        html.Div([html.H3(T("m_compare")), Field("compare_note", "lw-m-compare-note")], className="lw-m-sub-head"),
        html.Table([html.Thead(compare_head), html.Tbody()], className="lw-m-table lw-m-compare-table"),
    ], className="lw-m-compare", **{"data-state": "none"})
    legend = html.Div([html.Span([html.I(className="lw-m-key lw-m-key-gmv"), html.Span(T("m_key_gmv"))]),
                       html.Span([html.I(className="lw-m-key lw-m-key-online"), html.Span(T("m_key_online"))]),
                       html.Span([html.I(className="lw-m-key lw-m-key-ghost"), html.Span(T("m_key_ghost"))],
                                 className="lw-m-legend-ghost"),
                       html.Span([html.I(className="lw-m-key lw-m-key-alert"), html.Span(T("m_key_alert"))])],
                      className="lw-m-legend")
    timeline = html.Div([html.Div([html.H3(T("m_timeline")), legend], className="lw-m-sub-head"),
                         html.Div(className="lw-m-chart")], className="lw-m-timeline")
    seg_head = html.Tr([html.Th("#"), html.Th(T("product"), className="lw-m-col-name")]
                       + [html.Th(T(label), **{"data-col": f}) for f, label in REVIEW_SEGMENT_COLUMNS])
    segments = html.Div([html.Div([html.H3(T("m_segments")), html.Span(T("m_segments_hint"), className="lw-m-hint")],
                                  className="lw-m-sub-head"),
                         html.Div(html.Table([html.Thead(seg_head), html.Tbody()],
                                             className="lw-m-table lw-m-review-segments"), className="lw-m-table-wrap")],
                        className="lw-m-segments")
    def sort_head(field: str, label: str, sortable: bool) -> list:
        # a printed page shows the label, not the button (no buttons on paper)
        if not sortable:
            return T(label)
        return [html.Button(T(label), type="button", className="lw-m-sort", **{"data-sort": field}),
                html.Span(T(label), className="lw-m-print-only")]
    head = html.Tr([html.Th(sort_head("name", "product", True), className="lw-m-col-name")]
                   + [html.Th(sort_head(f, label, sortable), **{"data-col": f})
                      for f, label, sortable in REVIEW_PRODUCT_COLUMNS])
    table = html.Table([html.Thead(head), html.Tbody()], className="lw-m-table lw-m-review-products")
    tools = html.Div([
        dcc.Input(type="search", className="lw-m-review-search", debounce=False),   # placeholder: the browser's lang
        html.Button("‹", type="button", className="lw-m-page-prev", **{"aria-label": "previous page"}),
        Field("page_info", "lw-m-page-info"),
        html.Button("›", type="button", className="lw-m-page-next", **{"aria-label": "next page"}),
    ], className="lw-m-product-tools")
    products = html.Div([html.Div([html.H3(T("m_review_products")), tools], className="lw-m-sub-head"),
                         html.Div(table, className="lw-m-table-wrap")], className="lw-m-review-products-box")
    return html.Div([
        html.Div([html.H3(T("m_review")), Field("review_title", "lw-m-review-title"),
                  Field("review_session", "lw-m-review-id"), Field("review_span", "lw-m-review-span"), actions],
                 className="lw-m-sub-head lw-m-review-head"),
        Field("review_status", "lw-m-review-status"),
        html.Div([profit, Field("coverage_note", "lw-m-coverage-note"), late, compare, timeline, segments, products],
                 className="lw-m-review-body"),
    ], className="lw-m-review", **{"data-state": "none"})


def SessionsBox() -> html.Section:
    body = html.Div([html.Div(className="lw-m-session-list"), html.Div(T("m_no_sessions"), className="lw-m-empty"),
                     ReviewPanel()])
    return Box("sessions", "m_sessions", body)


def RoomDetail() -> html.Section:
    return html.Section([
        DetailHead(),
        DetailKpis(),
        html.Div([Funnel(), Sources()], className="lw-m-pair"),
        AudienceBox(),
        ChannelBox(),
        ProductTable(),
        SessionsBox(),
    ], className="lw-m-detail", **{"data-room": "", "data-state": "waiting"})


def SuggestionsBox() -> html.Section:
    holds = html.Details([html.Summary([html.Span(T("m_holds")), " (", Field("hold_count", ""), ")"]),
                          html.Div(className="lw-m-sug-list lw-m-holds-list")], className="lw-m-holds")
    body = html.Div([html.Div(className="lw-m-sug-list lw-m-sug-main"),
                     html.Div(T("m_no_suggestions"), className="lw-m-empty lw-m-sug-empty"), holds])
    return Box("suggestions", "m_suggestions", body,
               extra=html.Span(T("m_only_room"), className="lw-m-box-extra lw-m-filtered"))


def AlertsBox() -> html.Section:
    body = html.Div([html.Div(className="lw-m-alert-list"),
                     html.Div(T("m_no_alerts"), className="lw-m-empty lw-m-alerts-empty")])
    return Box("alerts", "m_alert_list", body,
               extra=html.Span(T("m_only_room"), className="lw-m-box-extra lw-m-filtered"))


def ConnectorsBox() -> html.Section:
    """The platform connectors' state (assets/manager-connectors.js); hidden unless the page may read it."""
    refresh = html.Button(T("m_connectors_refresh"), type="button", className="lw-m-btn lw-m-conn-refresh")
    section = Box("connectors", "m_connectors", html.Div(className="lw-m-connector-list"), extra=refresh)
    section.hidden = True
    return section


def LinksPanel() -> html.Section:
    """The link manager: make a share or device link, copy it once, see the live ones and revoke them. Hidden
    until the page knows its user may share (assets/manager-links.js fills the choices and the list)."""
    def field(label, control):
        return html.Label([html.Span(T(label), className="lw-m-link-field-label"), control],
                          className="lw-m-link-field")
    form = html.Form([
        field("m_link_label", dcc.Input(type="text", maxLength=64, required=True, className="lw-m-link-label",
                                        name="label")),
        field("m_link_kind", html.Select(className="lw-m-link-kind", name="kind")),
        field("m_link_screen", html.Select(className="lw-m-link-screen", name="screen")),
        field("m_link_rooms", dcc.Input(type="text", className="lw-m-link-rooms", name="rooms",
                                        placeholder="room-a,room-b")),
        field("m_link_expiry", html.Select(className="lw-m-link-expiry", name="expiry")),
        html.Button(T("m_link_create"), type="submit", className="lw-m-link-create"),
    ], className="lw-m-link-form")
    made = html.Div([
        html.Div(T("m_link_once"), className="lw-m-link-once"),
        html.Div([dcc.Input(type="text", readOnly=True, className="lw-m-link-url"),
                  html.Button(T("m_link_copy"), type="button", className="lw-m-link-copy")],
                 className="lw-m-link-url-row"),
    ], className="lw-m-link-made", hidden=True)
    live = html.Div([html.H3(T("m_live_links")), html.Div(className="lw-m-link-list"),
                     html.Div(T("m_no_links"), className="lw-m-empty lw-m-links-empty")], className="lw-m-link-live")
    return html.Section([
        html.Div([html.H2(T("m_links_title"), className="lw-m-box-title"),
                  html.Button(T("m_close"), type="button", className="lw-m-links-close")], className="lw-m-box-head"),
        html.P(T("m_links_hint"), className="lw-m-links-hint"),
        form, Field("link_status", "lw-m-link-status"), made, live,
    ], className="lw-m-box lw-m-links", id="lw-m-links", hidden=True)


def ManagerHeader(name: str, role: str) -> html.Header:
    def total(label, key, className=""):
        return html.Div([html.Span(T(label), className="lw-m-total-label"),
                         html.Span("—", className=f"lw-m-total-value {className}".strip(), **{"data-total": key})],
                        className="lw-m-total")
    return html.Header([
        html.Div([html.Span("livewall", className="lw-m-brand"), html.Span(T("m_title"), className="lw-m-page-title")],
                 className="lw-m-titles"),
        html.Div([total("m_total_gmv", "gmv", "lw-m-gold-text"),
                  html.Div([html.Span(T("m_rooms"), className="lw-m-total-label"),
                            html.Span("—", className="lw-m-total-value", **{"data-total": "rooms"}),
                            html.Span(T("m_live_rooms"), className="lw-m-total-label"),
                            html.Span("", className="lw-m-total-value", **{"data-total": "live"})],
                           className="lw-m-total lw-m-total-rooms"),
                  html.A([html.Span(T("m_firing"), className="lw-m-total-label"),
                          html.Span("0", className="lw-m-total-value", **{"data-total": "firing"})],
                         className="lw-m-total lw-m-total-firing", href="#lw-m-alerts"),
                  html.A([html.Span(T("m_to_approve"), className="lw-m-total-label"),
                          html.Span("0", className="lw-m-total-value", **{"data-total": "proposed"})],
                         className="lw-m-total lw-m-total-proposed", href="#lw-m-suggestions")],
                 className="lw-m-totals"),
        html.Div([html.Span(className="lw-m-conn-dot"), Field("conn", "lw-m-conn-text"), Field("clock", "lw-m-clock")],
                 className="lw-m-conn"),
        html.Button(T("m_share"), type="button", className="lw-m-share-open", hidden=True),
        html.Div([html.Span(name, className="lw-m-user-name", title=role),
                  html.Button(T("m_sign_out"), className="lw-m-btn lw-m-sign-out", type="button",
                              **{"data-sign-out": ""})],
                 className="lw-m-user"),
    ], className="lw-m-header")


def ManagerPage(config: dict) -> html.Div:
    """`config`: room (the drilled-into room or None), session (the review shown or None), lang ("zh", "en" or
    None for the browser's), user (who has the page open: name, role, rooms; None outside a request)."""
    lang = config.get("lang") or "auto"
    suggestions, alerts = SuggestionsBox(), AlertsBox()
    suggestions.id, alerts.id = "lw-m-suggestions", "lw-m-alerts"
    return html.Div([
        dcc.Store(id=CONFIG_ID, data=config),
        html.Div(id=BOOT_ID, hidden=True),
        ManagerHeader(*((config.get("user") or {}).get(k) or "" for k in ("name", "role"))),
        ToastArea(),   # the alert lane, in the page's flow under the header: it pushes the page down, covers nothing
        html.Main([
            html.Div([RoomsTable(), SessionsByDate(), RoomDetail()], className="lw-m-primary"),
            html.Aside([suggestions, alerts, ConnectorsBox()], className="lw-m-aside"),
        ], className="lw-m-main"),
        LinksPanel(),
        Banner(),
    ], id="manager", className=f"lw-manager lang-{lang}",
        **{"data-view": "room" if config.get("room") else "overview", "data-conn": "connecting"})
