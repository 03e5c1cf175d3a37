"""llm_models.markdown: model answers as Markdown, never as live HTML."""

from django.template import Context, Template

from llm_models.markdown import render_markdown


def test_markdown_is_rendered():
    html = render_markdown("# Title\n\n**bold** and `code`\n\n- a\n- b\n\n| x | y |\n|---|---|\n| 1 | 2 |")
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html and "<code>code</code>" in html
    assert "<li>a</li>" in html and "<td>1</td>" in html


def test_script_tags_stay_text():
    html = render_markdown("<script>alert(1)</script>")
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_event_handler_attributes_never_reach_the_page():
    html = render_markdown('<img src=x onerror=alert(1)> <a href="#" onclick="alert(1)">x</a>')
    assert "<img" not in html and "<a " not in html


def test_javascript_and_data_links_are_dropped_and_safe_ones_kept():
    html = render_markdown("[a](javascript:alert(1)) [b](data:text/html,<script>) [c](https://example.com)")
    assert "javascript:" not in html.replace("[a](javascript:", "")  # only left as visible text
    assert 'href="javascript' not in html and 'href="data' not in html
    assert '<a href="https://example.com" rel="noopener noreferrer nofollow">c</a>' in html


def test_images_are_not_loaded_from_outside():
    html = render_markdown("![tracker](http://attacker.example/pixel.png)")
    assert "<img" not in html


def test_template_filter():
    html = Template("{% load llm_markdown %}{{ text|markdown }}").render(Context({"text": "*hi* <b>x</b>"}))
    assert html == "<p><em>hi</em> &lt;b&gt;x&lt;/b&gt;</p>\n"
