"""Fill empty translations in a .po file from a JSON object {msgid: msgstr}.

Usage: python tools/po_fill.py locale/zh_Hans/LC_MESSAGES/django.po translations.json
       python tools/po_fill.py locale/zh_Hans/LC_MESSAGES/django.po --missing   # list untranslated
"""

import json
import re
import sys
from pathlib import Path

ENTRY = re.compile(r'((?:#.*\n)*)msgid ((?:".*"\n)+)msgstr ((?:".*"\n)+)')


def unquote(block: str) -> str:
    return "".join(json.loads(line) for line in block.strip().splitlines())


def quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def main() -> None:
    path = Path(sys.argv[1])
    text = path.read_text(encoding="utf-8")
    if sys.argv[2] == "--missing":
        for match in ENTRY.finditer(text):
            msgid, msgstr = unquote(match.group(2)), unquote(match.group(3))
            if msgid and (not msgstr or "#, fuzzy" in match.group(1)):
                print(json.dumps(msgid, ensure_ascii=False))
        return
    mapping = json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))

    def fill(match: re.Match) -> str:
        comments, msgid = match.group(1), unquote(match.group(2))
        if msgid in mapping and (not unquote(match.group(3)) or "#, fuzzy" in comments):
            comments = comments.replace("#, fuzzy\n", "")
            return f"{comments}msgid {match.group(2).rstrip()}\nmsgstr {quote(mapping[msgid])}\n"
        return match.group(0)

    path.write_text(ENTRY.sub(fill, text), encoding="utf-8")


if __name__ == "__main__":
    main()
