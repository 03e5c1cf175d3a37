"""The prompts an evaluation sends: to the model under test, and to the judge.

The judge must reply in a strict format, which `judge_reply_parse` reads:

    SCORE: <integer 0-10>
    REASON: <one short sentence>

A reply without exactly one such SCORE line (0–10) is a judge error: stored, shown, never counted
as a zero. The report shows these templates, so what was asked is never a guess.
"""

import re
from dataclasses import dataclass

JUDGE_SCALE = 10

MCQ_INSTRUCTION = "请直接给出正确选项的字母。Answer with the letter of the correct option."

MCQ_QUESTION_TEMPLATE = "{question}\n\n{choices}\n\n" + MCQ_INSTRUCTION

QA_JUDGE_TEMPLATE = """You are grading a model's answer to a question against the reference answer.

[Question]
{question}

[Reference Answer]
{reference}

[Model Answer]
{answer}

Rate how well the model answer agrees with the reference answer, from 0 (wrong, missing or \
unrelated) to 10 (the same meaning; wording may differ).
Reply in exactly this format and nothing else:
SCORE: <integer 0-10>
REASON: <one short sentence>"""

# Asked only when no option letter can be read from a multiple-choice answer.
MCQ_JUDGE_TEMPLATE = """You are checking which option a model chose in a multiple-choice question.

[Question]
{question}

[Reference Answer]
{reference}

[Model Answer]
{answer}

Rate 10 if the model answer clearly chooses the reference option, 0 if it chooses another \
option or none.
Reply in exactly this format and nothing else:
SCORE: <integer 0-10>
REASON: <one short sentence>"""

_SCORE_LINE = re.compile(r"^[ \t*_]*SCORE[ \t*_]*[:：][ \t]*(\d+(?:\.\d+)?)[ \t]*(?:/[ \t]*10)?[ \t*_]*$", re.I | re.M)
_REASON_LINE = re.compile(r"^[ \t*_]*REASON[ \t*_]*[:：][ \t*_]*(.+?)[ \t]*$", re.I | re.M)


def lettered(choices: list[str]) -> str:
    return "\n".join(f"{chr(ord('A') + i)}. {text}" for i, text in enumerate(choices))


def mcq_question_prompt(question: str, choices: list[str]) -> str:
    return MCQ_QUESTION_TEMPLATE.format(question=question, choices=lettered(choices))


def qa_judge_prompt(*, question: str, reference: str, answer: str) -> str:
    return QA_JUDGE_TEMPLATE.format(question=question, reference=reference, answer=answer)


def mcq_judge_prompt(*, question: str, choices: list[str], reference: str, answer: str) -> str:
    options = dict(zip((chr(ord("A") + i) for i in range(len(choices))), choices))
    correct = "; ".join(f"{letter}. {options.get(letter, '')}" for letter in reference)
    return MCQ_JUDGE_TEMPLATE.format(
        question=f"{question}\n\n{lettered(choices)}", reference=correct, answer=answer
    )


@dataclass(frozen=True)
class JudgeVerdict:
    score: float | None  # on the 0–JUDGE_SCALE scale; None when the reply could not be read
    reason: str

    @property
    def is_error(self) -> bool:
        return self.score is None


def judge_reply_parse(reply: str) -> JudgeVerdict:
    scores = _SCORE_LINE.findall(reply or "")
    reason = _REASON_LINE.search(reply or "")
    if len(scores) != 1 or not 0 <= float(scores[0]) <= JUDGE_SCALE:
        return JudgeVerdict(None, "")
    return JudgeVerdict(float(scores[0]), reason.group(1) if reason else "")
