"""Audience, traffic channels and interaction rates on the screens (README, "Audience and channels").

The wall gets `EngageStrip`, a row of small rates in its header band (above the toast lane, beside the title);
the manager's room drill-down gets `AudienceBox` (viewers against buyers by attribute, returning-fan share,
interaction rates) and `ChannelBox` (a stacked per-minute chart by sub-channel, drawn by
assets/manager-audience.js, and a table with GPM). Every number is a `data-metric` the screens' binding fills.
"""
from __future__ import annotations

from dash import html

from components.i18n import T
from components.tiles import Metric
from engine.metrics import AUDIENCE, CHANNEL_KEYS
from feeds.schema import CHANNELS

# (metric, label, format) of the interaction rates, in the order the platforms' consoles show them
ENGAGE = (("interaction_rate", "au_interaction", "pct"), ("follow_rate", "au_follow", "pct"),
          ("fan_club_rate", "au_fan_club", "pct"), ("negative_feedback_rate", "au_negative", "pct"),
          ("comments_per_min", "au_comments_min", "int"))
ATTR_LABEL = {"fan": "au_attr_fan", "visit": "au_attr_visit", "gender": "au_attr_gender", "age": "au_attr_age",
              "city_tier": "au_attr_city"}
SOURCE_LABEL = {"recommend": "recommend", "paid": "paid_src", "short_video": "short_video", "follow": "follow",
                "search": "search", "other": "other"}


def value_label(attr: str, value: str) -> list:
    if value == "unknown":
        return T("au_unknown")
    if attr == "age":
        return [value]
    return T(f"au_{attr}_{value}")


def EngageStrip() -> html.Div:
    return html.Div([html.Div([html.Span(T(label), className="lw-eng-label"), Metric(name, fmt, "lw-eng-value")],
                              className="lw-eng", **{"data-engage": name})
                     for name, label, fmt in ENGAGE], className="lw-engage")


def _attribute(name: str, values: tuple) -> html.Div:
    rows = [html.Div([html.Span(), html.Span(T("au_share")), html.Span(T("au_viewers")), html.Span(T("au_buyers")),
                      html.Span(T("au_buy_rate"))], className="lw-au-row lw-au-head")]
    for v in values:
        path = f"audience.{name}.{v}"
        rows.append(html.Div([
            html.Span(value_label(name, v), className="lw-au-label"),
            html.Div([html.Div(className="lw-au-bar-v", **{"data-au-bar": f"{name}|{v}|viewers"}),
                      html.Div(className="lw-au-bar-b", **{"data-au-bar": f"{name}|{v}|buyers"})],
                     className="lw-au-bars"),
            Metric(f"{path}.viewers", "int"), Metric(f"{path}.buyers", "int"), Metric(f"{path}.buy_rate", "pct"),
        ], className="lw-au-row", **{"data-value": v}))
    return html.Div([html.H3(T(ATTR_LABEL[name])), html.Div(rows, className="lw-au-rows")],
                    className="lw-au-attr", **{"data-attr": name})


def _figure(label: str, name: str, fmt: str) -> html.Div:
    return html.Div([html.Span(T(label), className="lw-au-fig-label"), Metric(name, fmt, "lw-au-fig-value")],
                    className="lw-au-fig")


def AudienceBox() -> html.Section:
    figures = html.Div([
        _figure("au_returning_share", "returning_fan_share", "pct"),
        _figure("au_returning_fans", "returning_fans", "int"),
        _figure("au_new_fans", "new_fans", "int"),
        *(_figure(label, name, fmt) for name, label, fmt in ENGAGE),
        _figure("au_comments_avg", "comments_per_min_avg", "ratio"),
    ], className="lw-au-figs")
    legend = html.Span([html.I(className="lw-au-key lw-au-key-v"), html.Span(T("au_viewers")),
                        html.I(className="lw-au-key lw-au-key-b"), html.Span(T("au_buyers"))],
                       className="lw-m-box-extra lw-au-legend")
    grid = html.Div([_attribute(name, vals) for name, vals, _s, _m in AUDIENCE], className="lw-au-grid")
    head = [html.H2(T("au_title"), className="lw-m-box-title"), legend]
    return html.Section([html.Div(head, className="lw-m-box-head"), figures, grid,
                         html.Div(T("au_note"), className="lw-au-note")], className="lw-m-box lw-m-audience")


def ChannelBox() -> html.Section:
    toggle = html.Div([html.Button(T("au_chart_visits"), className="lw-ch-mode is-on", **{"data-mode": "visits"}),
                       html.Button(T("au_chart_gmv"), className="lw-ch-mode", **{"data-mode": "gmv"})],
                      className="lw-ch-modes")
    head = html.Div([html.Span(), html.Span(T("au_source")), html.Span(T("src_visits")), html.Span(T("au_viewers")),
                     html.Span(T("src_gmv")), html.Span(T("au_gpm"))], className="lw-ch-row lw-ch-head")
    rows = [head]
    for ch in CHANNEL_KEYS[1:] + CHANNEL_KEYS[:1]:
        path = f"channels.{ch}"
        group = CHANNELS.get(ch)
        rows.append(html.Div([
            html.Span([html.I(className="lw-ch-swatch", **{"data-channel": ch}), html.Span(T(f"ch_{ch}"))],
                      className="lw-ch-label"),
            html.Span(T(SOURCE_LABEL[group]) if group else "—", className="lw-ch-group"),
            Metric(f"{path}.visits", "int"), Metric(f"{path}.viewers", "int"), Metric(f"{path}.gmv", "money"),
            Metric(f"{path}.gpm", "money"),
        ], className="lw-ch-row", **{"data-channel": ch}))
    chart = html.Div([html.Div(className="lw-ch-chart"), html.Div(T("au_chart_note"), className="lw-au-note")],
                     className="lw-ch-chart-box")
    return html.Section([
        html.Div([html.H2(T("ch_title"), className="lw-m-box-title"), toggle], className="lw-m-box-head"),
        html.Div([chart, html.Div(rows, className="lw-ch-table")], className="lw-ch-body"),
    ], className="lw-m-box lw-m-channels")
