"""Markdown written by models, rendered to HTML that cannot run script or load anything.

Raw HTML in the text stays text (markdown-it's `html` option is off), and the result goes through
nh3 with a short allow-list: no script, style, iframe, form or image tags, no `on*` or `style`
attributes, links only to http(s) and mailto. Chat answers and evaluation reports both use it.
"""

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code",
    "pre", "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "code": {"class"}, "ol": {"start"}}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}

# Tables and ~~strikethrough~~ are everyday model output. Images are turned off: a model (or a
# prompt injection) could make every reader's browser fetch an outside URL.
_markdown = (
    MarkdownIt("commonmark", {"html": False, "breaks": False})
    .enable(["table", "strikethrough"])
    .disable("image")
)


def render_markdown(text: str) -> SafeString:
    """Safe HTML for Markdown text from an untrusted source (a model's answer)."""
    html = _markdown.render(text or "")
    return mark_safe(  # noqa: S308 - sanitised by nh3 on the line below
        nh3.clean(
            html,
            tags=ALLOWED_TAGS,
            attributes=ALLOWED_ATTRIBUTES,
            url_schemes=ALLOWED_URL_SCHEMES,
            link_rel="noopener noreferrer nofollow",
            strip_comments=True,
        )
    )
