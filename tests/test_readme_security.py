"""Every PLAYGROUND_* environment variable the app reads (engine/, ui/, pages/, app.py) is named in the README,
and the README's Security section names each cap of engine/limits.py."""
import re
from pathlib import Path

from engine import limits

ROOT = Path(__file__).resolve().parents[1]
# A variable's name as the code spells it: a whole string literal (not `_PLAYGROUND_SCALE`, a constant).
VARIABLE = re.compile(r"""["'](PLAYGROUND_[A-Z0-9_]+)["']""")


def _sources():
    for folder in ("engine", "ui", "pages"):
        yield from sorted((ROOT / folder).rglob("*.py"))
    yield ROOT / "app.py"


def _read_variables() -> set[str]:
    return {name for path in _sources() for name in VARIABLE.findall(path.read_text(encoding="utf-8"))}


def _section(readme: str, title: str) -> str:
    return readme.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_every_variable_the_code_reads_is_in_the_readme():
    found = _read_variables()
    assert {"PLAYGROUND_MAX_PARAMS", "PLAYGROUND_DATA_DIR", "PLAYGROUND_DATABASE_URL",
            "PLAYGROUND_DATA_FOLDERS"} <= found  # the search itself works
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert not sorted(name for name in found if not re.search(rf"\b{name}\b", readme))


def test_the_security_section_names_every_cap():
    source = (ROOT / "engine" / "limits.py").read_text(encoding="utf-8")
    caps = set(VARIABLE.findall(source))
    assert len(caps) >= 20 and len(caps) == len([v for v in vars(limits) if v.isupper()])
    security = _section((ROOT / "README.md").read_text(encoding="utf-8"), "Security")
    for topic in ("Tokens", "Files", "Uploads", "Rates", "Rendering", "Data folders"):
        assert f"**{topic}" in security, topic
    assert not sorted(cap for cap in caps if cap not in security)
