"""User strings shown as text in Streamlit's markdown (names, file names, messages that quote user input).

Streamlit renders GitHub markdown in every text element: images are fetched, links and bare addresses become
clickable, ``$…$`` becomes maths. Anything a user typed or uploaded goes through these helpers first.
"""
from __future__ import annotations

import re

_JOINER = "\u2060"  # WORD JOINER: invisible, and it stops a bare address or e-mail from being made a link
_BARE_LINK = re.compile(r"(?i)(https?:|ftp:|www)(?=[/.])|(@)")
_LIVE = re.compile(r"([\\`\[\]<>&$~|])")  # what makes a link, an image, HTML, an entity, code or maths
_MARKUP = re.compile(r"([\\`\[\]<>&$~|*_])")  # and emphasis, which a name shows as typed


def _defuse(text: str) -> str:
    return _BARE_LINK.sub(lambda m: m.group(0) + _JOINER, text)


def plain(text: object) -> str:
    """A user's string inside markdown, shown exactly as typed, on one line."""
    one_line = re.sub(r"\s*[\r\n]+\s*", " ", str(text))
    return _MARKUP.sub(r"\\\1", _defuse(one_line))


def message(err: object) -> str:
    """An error's text for st.error and friends: user input quoted in it makes no link, image or HTML (the
    engine's own words keep their '_' and '*', which its messages use only inside names)."""
    return _LIVE.sub(r"\\\1", _defuse(str(err)))


def code(text: object, limit: int = 60) -> str:
    """A user's string as an inline code span (at most ``limit`` characters), whatever backticks it holds."""
    shown = re.sub(r"[\r\n]+", " ", str(text))[:limit]
    fence = "`" * (max((len(r) for r in re.findall(r"`+", shown)), default=0) + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") or not shown.strip() else ""
    return f"{fence}{pad}{shown}{pad}{fence}"
