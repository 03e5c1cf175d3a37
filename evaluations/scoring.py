"""Reading the chosen option out of a multiple-choice answer written in prose."""

import re
import unicodedata

_LETTER = r"(?:\(\s*([A-Za-z])\s*\)|（\s*([A-Za-z])\s*）|([A-Z])(?![A-Za-z]))"
_LETTERS = rf"{_LETTER}(?:\s*(?:,|，|、|和|及|and|&|/)\s*{_LETTER})*"
# "答案是 B", "正确答案：(B)", "The correct option is (b)", "answer: B and D"
_STATED = re.compile(
    rf"(?:答案|正确选项|选项|answer|option|choice)\s*(?:应该|应|应当)?\s*(?:is|was|would be|是|为|选|:|：)?\s*[:：]?\s*\**\s*({_LETTERS})",
    re.I,
)
# "选 B", "I choose C", "pick (a)"
_CHOSEN = re.compile(rf"(?:选择?|choose|chose|pick|select)\s*[:：]?\s*\**\s*({_LETTERS})", re.I)
# The answer starts with the letter: "B", "**B.**", "B) because", "C、北京"
_LEADING = re.compile(r"^[\s*_#>]*(?:[(（]([A-Za-z])[)）]|([A-Z])(?:[)）.．、:：*_\s]|$))")


def _letters_in(fragment: str) -> str:
    letters = re.findall(_LETTER, fragment)
    return "".join(sorted({"".join(groups).upper() for groups in letters}))


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()


def extract_choice(answer: str, choices: list[str]) -> str:
    """The option letter(s) the answer picks, e.g. "B" or "AC"; "" when it cannot be told."""
    text = unicodedata.normalize("NFKC", answer or "").strip()
    valid = {chr(ord("A") + i) for i in range(len(choices))}
    for pattern in (_STATED, _CHOSEN):
        for match in pattern.finditer(text):
            letters = _letters_in(match.group(1))
            if letters and set(letters) <= valid:
                return letters
    leading = _LEADING.match(text)
    if leading and (letter := (leading.group(1) or leading.group(2)).upper()) in valid:
        return letter
    # No letter: the answer may restate one option's text (and no other's).
    said = _normalise(text)
    restated = [
        chr(ord("A") + i)
        for i, option in enumerate(choices)
        if len(_normalise(option)) >= 2 and _normalise(option) in said
    ]
    return restated[0] if len(restated) == 1 else ""
