"""Links that open a source item's live page at the cited words, with a URL text fragment (#:~:text=).

Browsers that support text fragments scroll to and highlight the words; others ignore the
directive and open the page. Long passages are matched by their first and last words
(`text=start,end`), which survives the page's own line breaks and markup between them.
"""

from __future__ import annotations

import re
from urllib.parse import quote

_SPACE = re.compile(r"\s+")
# Table cells and blocks are separate elements on the page: never match across them with one term.
_BREAK = re.compile(r"\n+| \| ")
WHOLE_WORDS = 8  # a quote of up to this many words is matched whole
EDGE_WORDS = 4  # longer ones by this many words at each end
MAX_TERM_CHARS = 120


def _term(text: str) -> str:
    # '-', ',' and '&' have meanings in the directive itself, so they are escaped too.
    return quote(text, safe="").replace("-", "%2D")


def text_fragment(quoted: str) -> str:
    """The `:~:text=` directive for `quoted`, or "" when there are no words to match."""
    lines = [_SPACE.sub(" ", line).strip() for line in _BREAK.split(quoted)]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    first, last = lines[0].split(" "), lines[-1].split(" ")
    if len(lines) == 1 and len(first) <= WHOLE_WORDS and len(lines[0]) <= MAX_TERM_CHARS:
        return ":~:text=" + _term(lines[0])
    start = " ".join(first[:EDGE_WORDS])[:MAX_TERM_CHARS]
    end = " ".join(last[-EDGE_WORDS:])[-MAX_TERM_CHARS:]
    if len(lines) == 1 and len(first) <= EDGE_WORDS:
        # One long run without spaces (Thai): its opening characters are enough to land on it.
        return ":~:text=" + _term(start)
    return f":~:text={_term(start)},{_term(end)}"


def live_url(url: str, quoted: str) -> str:
    """`url` with a text fragment to `quoted`, after the page's own fragment if it has one."""
    directive = text_fragment(quoted)
    if not directive:
        return url
    return f"{url}{directive}" if "#" in url else f"{url}#{directive}"
