"""Hostile documents for the knowledge base: every way a file could try to run script when an agent opens it.

Each payload, if it ever runs, marks the page three ways a test can see without trusting the page:
it sets document.title to PWNED-<vector>, appends the vector to window.__pwned, and requests
/beacon/<vector> with the cookies it can read.
"""

from __future__ import annotations

PWNED = "PWNED"
BEACON = "/beacon/"
# The key the old panel kept in localStorage: a payload tries to read it too.
OLD_KEY_STORAGE = "assistant.apiKey"


def payload(vector: str) -> str:
    """JavaScript (no double quotes, so it fits in an attribute) that marks the page as run."""
    return (
        f"document.title='{PWNED}-{vector}';"
        f"window.__pwned=(window.__pwned||[]).concat('{vector}');"
        "var k='';try{k=localStorage.getItem('" + OLD_KEY_STORAGE + "')||''}catch(e){}"
        f"fetch('{BEACON}{vector}?c='+encodeURIComponent(document.cookie)+'&k='+encodeURIComponent(k))"
    )


HTML_VECTORS = ("script", "onload", "onerror", "link", "svg-script", "svg-onload", "srcdoc")
HOSTILE_HTML = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Hostile kettle help</title>
<script>{payload("script")}</script></head>
<body onload="{payload("onload")}">
<h1>Hostile kettle refunds</h1>
<p>Refunds for a hostile kettle take 45 days from the day the kettle is returned.</p>
<img src="/no-such-image.png" onerror="{payload("onerror")}" alt="">
<p><a id="jslink" href="javascript:{payload("link")}">Open the refund form for the kettle</a></p>
<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40" onload="{payload("svg-onload")}">
<script>{payload("svg-script")}</script><circle cx="20" cy="20" r="10"/></svg>
<iframe srcdoc="<script>{payload("srcdoc")}</script>"></iframe>
</body></html>
"""
# A refresh is not script but still moves the tab to a page the document chose.
REFRESH_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>Kettle descaling</title>
<meta http-equiv="refresh" content="0; url=/beacon/refresh"></head>
<body><h1>Kettle descaling</h1><p>Descale the hostile kettle with citric acid every month.</p></body></html>
"""
# Raw HTML in Markdown and in a text file: inert as long as the browser never reads them as HTML.
HOSTILE_MARKDOWN = f"""# Kettle warranty

The hostile kettle warranty lasts 36 months from delivery.

<script>{payload("markdown-script")}</script>
<img src="x" onerror="{payload("markdown-onerror")}">
"""
HOSTILE_TEXT = f"""<html><body><script>{payload("text-script")}</script>
Kettle lids for the hostile kettle are sold separately for 9 euros.</body></html>
"""
HOSTILE_FILES = {
    "hostile.html": HOSTILE_HTML,
    "refresh.html": REFRESH_HTML,
    "raw-html.md": HOSTILE_MARKDOWN,
    "sniff.txt": HOSTILE_TEXT,
}
