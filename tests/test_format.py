"""The money rule (README "Money on the screens") as the browser applies it: assets/livewall-format.js evaluated
in a real headless Chromium over a table of inputs and the strings expected in Chinese and English, and the
place rule of livewall-dom.js (one unit for every element of a column)."""
from __future__ import annotations

from pathlib import Path

import pytest

ASSETS = Path(__file__).resolve().parent.parent / "assets"

# (kind, value, zh, en); a fifth item is the place's largest value (the unit is chosen for the place)
CASES = [
    # a price: always yuan with cents, never compact
    ("price", 1131.9, "¥1,131.90", "¥1,131.90"),
    ("price", 199, "¥199.00", "¥199.00"),
    ("price", 123456.5, "¥123,456.50", "¥123,456.50"),
    # one figure read on its own: cents until 10万 (zh) / 1M (en)
    ("money", 0, "¥0.00", "¥0.00"),
    ("money", 770.05, "¥770.05", "¥770.05"),
    ("money", 1401, "¥1,401.00", "¥1,401.00"),
    ("money", 48857.2, "¥48,857.20", "¥48,857.20"),
    ("money", 502345.2, "¥50.23万", "¥502,345.20"),
    ("money", 12345678, "¥1,234.57万", "¥12.35M"),
    ("money", 2.5e9, "¥25.00亿", "¥2.50B"),
    ("money", -88.5, "-¥88.50", "-¥88.50"),
    ("money", -0.001, "¥0.00", "¥0.00"),
    # the hero: more digits in the large units, and the net GMV beside it in the hero's unit
    ("money-hero", 48857.2, "¥48,857.20", "¥48,857.20"),
    ("money-hero", 502345.2, "¥50.23万", "¥502,345.20"),
    ("money-hero", 123456789, "¥1.2346亿", "¥123.4568M"),
    ("money-hero", 480123.0, "¥48.01万", "¥480,123.00", 502345.2),
    ("money-hero", 1312.5, "¥0.13万", "¥1,312.50", 502345.2),
    # compact places: one unit for the place, from its largest value
    ("money-tile", 770.05, "¥770.05", "¥770.05"),
    ("money-tile", 1401, "¥1,401", "¥1,401"),
    ("money-tile", 770.05, "¥770", "¥770", 1401),
    ("money-tile", 48857, "¥48,857", "¥48,857"),
    ("money-tile", 48857, "¥4.89万", "¥48.9K", 502000),
    ("money-tile", 502000, "¥50.20万", "¥502.0K"),
    ("money-tile", 5020000, "¥502.0万", "¥5.02M"),
    ("money-tile", 48857, "¥4.9万", "¥0.05M", 5020000),
    ("money-tile", 3.2e8, "¥3.20亿", "¥320.00M"),
    # the others
    ("ratio", 0.384, "0.38", "0.38"),
    ("target", None, "无目标", "no target"),
    ("target", 2.1, "2.10", "2.10"),
    ("money", None, "—", "—"),
    ("chance", 0.9996, ">99%", ">99%"),
    ("chance", 0.734, "73%", "73%"),
    ("pct", 0.1234, "12.3%", "12.3%"),
]


@pytest.fixture
def fmt_page(page):
    page.set_content("<html><body></body></html>")
    for name in ("livewall-i18n.js", "livewall-format.js", "livewall-dom.js"):
        page.add_script_tag(path=str(ASSETS / name))
    return page


def test_the_money_rule_in_both_languages(fmt_page):
    got = fmt_page.evaluate("""cases => cases.map(c => [
        window.livewall.fmt(c[0], "zh", c[1], c[4] || 0), window.livewall.fmt(c[0], "en", c[1], c[4] || 0)])""",
                            [list(c) + [None] * (5 - len(c)) for c in CASES])
    wrong = [(c, g) for c, g in zip(CASES, got) if g != [c[2], c[3]]]
    assert not wrong, "\n".join(f"{c[0]}({c[1]}, top={c[4] if len(c) > 4 else None}): got {g}, expected "
                                f"{[c[2], c[3]]}" for c, g in wrong)


def test_a_column_never_mixes_units_and_paid_roi_is_judged_by_its_target(fmt_page):
    """Two rows of a column bound separately (as two rooms' frames arrive): once the larger arrives, both are
    written in its unit; and data-judge colours paid ROI against target_roi."""
    got = fmt_page.evaluate("""() => {
        const lw = window.livewall, D = lw.dom;
        document.body.innerHTML = '<div id=a><span data-metric="gmv" data-fmt="money-tile" data-place="g"></span>' +
          '<span data-metric="paid_roi" data-fmt="ratio" data-judge="target_roi"></span></div>' +
          '<div id=b><span data-metric="gmv" data-fmt="money-tile" data-place="g"></span></div>';
        const a = D.bind(document.getElementById("a")), b = D.bind(document.getElementById("b"));
        const text = () => Array.from(document.querySelectorAll('[data-place="g"]')).map(e => e.textContent);
        const level = () => document.querySelector('[data-judge]').getAttribute("data-level");
        const out = {};
        D.apply(a, {gmv: 48857, paid_roi: 0.38, target_roi: 2.1}, "zh"); out.alone = text(); out.far = level();
        D.apply(b, {gmv: 502000}, "zh"); out.both = text();
        D.apply(a, {gmv: 48857, paid_roi: 1.5, target_roi: 2.1}, "zh"); out.below = level();
        D.apply(a, {gmv: 48857, paid_roi: 2.1, target_roi: 2.1}, "zh"); out.at = level();
        D.apply(a, {gmv: 48857, paid_roi: 0, target_roi: 2.1}, "zh"); out.zero = level();
        D.apply(a, {gmv: 48857, paid_roi: null, target_roi: 2.1}, "zh"); out.nospend = level();
        D.apply(a, {gmv: 48857, paid_roi: 3, target_roi: null}, "zh"); out.notarget = level();
        return out;
    }""")
    assert got["alone"] == ["¥48,857", ""] and got["both"] == ["¥4.89万", "¥50.20万"]
    assert (got["far"], got["below"], got["at"], got["zero"]) == ("bad", "warn", "good", "bad")
    assert (got["nospend"], got["notarget"]) == ("none", "none")
