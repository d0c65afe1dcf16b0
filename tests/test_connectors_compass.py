"""Reading Compass (罗盘) exports: CSV (UTF-8 with BOM, GBK), XLSX, a header row or two columns 指标/数值, the
value forms the consoles use, unknown headers reported back, and the comparison with livewall's figures."""
from __future__ import annotations

import io

import openpyxl
import pytest

from feeds.connectors.compass import CompassError, compare, parse, value


def test_value_forms():
    assert value("¥1,234.50", "money") == 1234.5
    assert value("1.2万", "count") == 12000 and value("3亿", "money") == 3e8
    assert value("12.5%", "rate") == pytest.approx(0.125)
    assert value("1分30秒", "seconds") == 90 and value("00:01:30", "seconds") == 90
    assert value("83s", "seconds") == 83 and value("2小时", "seconds") == 7200 and value("45", "seconds") == 45
    for bad, kind in (("abc", "money"), ("一分钟", "seconds"), ("", "seconds")):
        with pytest.raises(CompassError):
            value(bad, kind)


def test_csv_in_both_layouts_and_encodings():
    text = "直播间成交金额,累计观看人数,新指标\n\"￥10,000\",500,1\n"
    for raw in (("\ufeff" + text).encode(), text.encode("gbk")):
        out = parse("x.csv", raw)
        assert out["figures"] == {"gmv": 10000.0, "viewers": 500.0} and out["ignored"] == ["新指标"]
    kv = parse("x.csv", "指标,数值\n最高在线人数,88\n商品点击率,3%\n".encode())
    assert kv["figures"] == {"peak_online": 88.0, "ctr": pytest.approx(0.03)}
    with pytest.raises(CompassError):
        parse("x.csv", "a,b\n1,2\n".encode())      # nothing we read
    with pytest.raises(CompassError):
        parse("x.csv", "最高在线人数\n很多\n".encode())   # a value that is no number


def test_xlsx():
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["直播间成交金额", "人均观看时长", "成交人数"])
    ws.append([2580.5, "2分05秒", 31])
    buf = io.BytesIO()
    wb.save(buf)
    out = parse("罗盘.xlsx", buf.getvalue())
    assert out["figures"] == {"gmv": 2580.5, "avg_dwell_s": 125.0, "buyers": 31.0}
    with pytest.raises(CompassError):
        parse("broken.xlsx", b"not a zip")


def test_comparison_rows():
    imported = parse("x.csv", "累计观看人数,直播间曝光人数\n100,1000\n".encode())
    rows = {r["metric"]: r for r in compare(imported, {"viewers": 80, "funnel": {"impressed": 1200}})}
    assert rows["viewers"]["difference"] == -20 and rows["viewers"]["difference_pct"] == -20.0
    assert rows["funnel.impressed"]["livewall"] == 1200 and rows["viewers"]["why_zh"]
    assert compare(imported, {})[0]["livewall"] is None
