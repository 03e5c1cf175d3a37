"""`{{ text|markdown }}`: Markdown from a model, rendered without letting it inject script."""

from django import template
from django.utils.safestring import SafeString

from llm_models.markdown import render_markdown

register = template.Library()


@register.filter(is_safe=True)
def markdown(text: str) -> SafeString:
    return render_markdown(text)
