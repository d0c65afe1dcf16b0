"""Static labels in Chinese and English.

Both languages are rendered and CSS shows one (`lang-zh` / `lang-en` on the screen's root), so `?lang=` or the
browser's language picks it on the client without another round trip. Phrases built at run time (data age,
reconnecting, toasts) live in assets/livewall-i18n.js.
"""
from __future__ import annotations

from dash import html

TEXT: dict[str, tuple[str, str]] = {
    # header
    "started_for": ("已开播", "Live for"),
    "matrix": ("直播矩阵", "Live matrix"),
    "rooms": ("个直播间", "rooms"),
    "total_gmv": ("总成交", "Total GMV"),
    "next": ("下一个", "Next"),
    # hero
    "gmv": ("成交金额", "GMV"),
    "last_1m": ("近1分钟", "Last 1 min"),
    "last_5m": ("近5分钟", "Last 5 min"),
    "net_gmv": ("净成交", "Net GMV"),
    "on_stage": ("讲解中", "On stage"),
    "stage_time": ("讲解", "on stage"),
    "stock": ("库存", "Stock"),
    "sold": ("已售", "Sold"),
    "nothing_on_stage": ("暂无讲解商品", "No product on stage"),
    # tiles
    "online": ("在线人数", "Online now"),
    "peak": ("峰值", "Peak"),
    "viewers": ("累计观看人数", "Viewers (UV)"),
    "visits": (" 次观看", " visits"),
    "avg_dwell": ("人均观看时长", "Avg. watch time"),
    "bounce": ("2秒跳出率", "2-s bounce rate"),
    "bounce_note": ("livewall 自有指标：平台只对短视频公布2秒跳出",
                    "livewall's own measure; platforms give it for short videos only"),
    "gpm_label": ("GPM 千次观看成交", "GPM (per 1,000)"),
    "divided_by": ("÷ ", "÷ "),
    "uv_value": ("UV 价值", "UV value"),
    "viewers_unit": (" 位观众", " viewers"),
    "orders": ("订单数", "Orders"),
    "paid": ("已支付", "paid"),
    "buyers": ("成交人数", "Buyers"),
    "units": ("件数", "units"),
    "refunds": ("退款金额", "Refunds"),
    # trend
    "trend": ("分钟趋势", "Per minute"),
    "trend_gmv": ("成交金额", "GMV"),
    "trend_online": ("在线人数", "Online"),
    "trend_product": ("换品", "product change"),
    "trend_alert": ("告警", "alert"),
    # funnel
    "funnel": ("转化漏斗", "Conversion funnel"),
    "impressed": ("直播间曝光", "Impressions"),
    "entered": ("进入直播间", "Entered"),
    "product_viewers": ("商品曝光", "Product views"),
    "product_clickers": ("商品点击", "Product clicks"),
    "orderers": ("下单", "Ordered"),
    "funnel_buyers": ("成交", "Paid"),
    # sources
    "sources": ("流量来源", "Traffic sources"),
    "src_visits": ("观看", "Visits"),
    "src_gmv": ("成交", "GMV"),
    "recommend": ("推荐", "For You"),
    "paid_src": ("付费投流", "Paid ads"),
    "short_video": ("短视频", "Short video"),
    "follow": ("关注", "Following"),
    "search": ("搜索", "Search"),
    "other": ("其他", "Other"),
    "paid_share": ("付费流量成交占比", "Paid share of GMV"),
    # leaderboard
    "board": ("商品排行", "Products"),
    "product": ("商品", "Product"),
    "col_viewers": ("曝光", "Views"),
    "col_clickers": ("点击", "Clicks"),
    "col_ctr": ("点击率", "CTR"),
    "col_cvr": ("转化率", "CVR"),
    "col_units": ("件数", "Units"),
    "col_gmv": ("成交", "GMV"),
    "col_stock": ("库存", "Stock"),
    # ads
    "ads": ("投流", "Ads"),
    "ad_spend": ("消耗", "Spend"),
    "roi": ("ROI", "ROI"),
    "paid_roi": ("付费 ROI", "Paid ROI"),
    "target": ("目标", "target"),
    "suggestion": ("最新建议", "Latest suggestion"),
    "no_suggestion": ("暂无建议", "No suggestion yet"),
    # re-run
    "rerun": ("返场推荐", "Bring back (返场)"),
    "no_rerun": ("暂无返场推荐", "No re-run picks yet"),
    # matrix tiles
    "t_online": ("在线", "Online"),
    "t_viewers": ("观看人数", "Viewers"),
    "t_gpm": ("GPM/千次", "GPM/1k"),
    "t_roi": ("ROI", "ROI"),
    "t_paid_orders": ("支付订单", "Paid orders"),
    "t_bounce": ("2秒跳出*", "2-s bounce*"),
    "bounce_footnote": ("* 2秒跳出率为 livewall 自有指标", "* 2-s bounce is livewall's own measure"),
    # footer
    "alerts": ("告警", "Alerts"),
    "all_clear": ("一切正常", "All clear"),
    "comments": ("评论", "Comments"),
}


def add_text(entries: dict[str, tuple[str, str]]) -> None:
    """A screen's own labels, added by its component module; a key may mean one thing only."""
    clash = sorted(k for k in entries if k in TEXT and TEXT[k] != entries[k])
    if clash:
        raise ValueError(f"labels defined twice with different texts: {clash}")
    TEXT.update(entries)


def T(key: str) -> list:
    """A label in both languages; the screen's `lang-*` class shows one."""
    zh, en = TEXT[key]
    return [html.Span(zh, className="i18n-zh", lang="zh-CN"), html.Span(en, className="i18n-en", lang="en")]
