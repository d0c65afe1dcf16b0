"""The class names assets/*.js looks elements up by (querySelector, closest, the shell's `ready`) are the
coupling between the scripts and the Python that builds the page: this lists them, from the scripts
themselves, and checks that each is written somewhere, by a component (components/, server/pages/) or by a script
that builds the element. A renamed class on one side only fails here, not silently on a screen."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOOKUP = re.compile(r"""(?:querySelector(?:All)?|closest|whenInDom)\(\s*["']([^"']+)["']|ready: "([^"]+)\"""")
CLASS = re.compile(r"\.(lw-[a-z0-9-]+)")


def looked_up() -> dict[str, set[str]]:
    """class name -> the scripts that look it up"""
    out: dict[str, set[str]] = {}
    for js in sorted((ROOT / "assets").glob("*.js")):
        for m in LOOKUP.finditer(js.read_text(encoding="utf-8")):
            for name in CLASS.findall(m.group(1) or m.group(2)):
                out.setdefault(name, set()).add(js.name)
    return out


def written(name: str) -> bool:
    """`name` whole between quotes or spaces, or an f-string that builds it (f"lw-ticker-{key}")."""
    built = [re.escape(name[:i + 1]) + r"\{" for i, c in enumerate(name) if c == "-" and i > 2]
    pattern = re.compile("|".join([rf"""["' ]{re.escape(name)}["' ]""", *built]))
    sources = [*(ROOT / "components").glob("*.py"), *(ROOT / "server" / "pages").glob("*.py"),
               *(ROOT / "assets").glob("*.js")]
    return any(pattern.search(p.read_text(encoding="utf-8")) for p in sources)


def test_every_class_a_script_looks_up_is_written_somewhere():
    names = looked_up()
    assert len(names) > 40, "the scripts' lookups were not found: has the pattern changed?"
    missing = {name: sorted(scripts) for name, scripts in names.items() if not written(name)}
    assert not missing, f"looked up but written nowhere: {missing}"
