"""Find the customer's questions in a helpdesk ticket: quoted replies and signatures stripped, long emails split."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.sentences import sentence_spans

# A line that starts an earlier message quoted below the new one; everything from it on is dropped.
_QUOTE_HEADER = re.compile(
    r"^\s*(On .{3,200} wrote:"
    r"|W dniu .{3,200} napisał(a)?:"
    r"|.{3,200} kirjoitti:"
    r"|From:\s.*|Sent:\s.*|Lähettäjä:\s.*|Od:\s.*|จาก:\s.*"
    r"|-{2,}\s*(Original Message|Alkuperäinen viesti|Wiadomość oryginalna|ข้อความเดิม)\s*-{2,}"
    r"|เมื่อ .{3,200} เขียนว่า:?)\s*$",
    re.IGNORECASE,
)
# A line that opens the sender's signature; it and the lines after it (the name) are dropped.
_SIGNATURE = re.compile(
    r"^\s*(--\s*|(best|kind|warm)?\s*regards,?|thanks,?|thank you,?|cheers,?|sincerely,?"
    r"|pozdrawiam,?|z poważaniem,?|serdecznie pozdrawiam,?"
    r"|ystävällisin terveisin,?|terveisin,?|t\.?,?"
    r"|ขอบคุณ(ครับ|ค่ะ|คะ)?|ด้วยความนับถือ)\s*$",
    re.IGNORECASE,
)
# Words that open a question in each language, and Thai particles that end one.
_INTERROGATIVE = re.compile(
    r"^(how|what|when|where|why|which|who|can|could|do|does|did|is|are|will|would|should|may"
    r"|miten|mitä|mikä|milloin|missä|miksi|kuinka|voinko|voiko|onko|saako|paljonko"
    r"|jak|jaki|jaka|jakie|kiedy|gdzie|dlaczego|czy|ile|co)\b",
    re.IGNORECASE,
)
_THAI_QUESTION = re.compile(r"(ไหม|มั้ย|หรือเปล่า|หรือไม่|อย่างไร|ยังไง|เท่าไร|เท่าไหร่|ที่ไหน|เมื่อไร|เมื่อไหร่|อะไร|ได้ไหม)")
# Requests phrased as imperatives still ask for an answer.
_REQUEST = re.compile(
    r"^(please\s+(tell|let|explain|advise|confirm|send|help)|i would like to know|i'd like to know|let me know"
    r"|kerro|kertoisitteko|haluaisin tietää|proszę\s+(o\s+)?(informację|podać|wyjaśnić|powiedzieć)"
    r"|chciał(a)?bym wiedzieć|prosimy o|รบกวน|ช่วย\S*บอก|อยากทราบ|ขอทราบ)",
    re.IGNORECASE,
)
# A question of fewer words than this gets the sentence before it as context.
MIN_QUESTION_WORDS = 4


@dataclass(frozen=True)
class TicketMessage:
    author: str  # "customer" or "agent"
    text: str


def strip_quotes_and_signature(text: str) -> str:
    """The new words of one message: no quoted earlier replies, no signature and name lines."""
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.lstrip().startswith(">") or _QUOTE_HEADER.match(line):
            break
        if _SIGNATURE.match(line) and kept:
            break
        kept.append(line)
    return "\n".join(kept).strip()


def is_question(sentence: str) -> bool:
    """A question mark, an interrogative opener, a Thai question particle or a polite request."""
    text = sentence.strip()
    if text.endswith(("?", "？")):
        return True
    return bool(_INTERROGATIVE.match(text) or _REQUEST.match(text) or _THAI_QUESTION.search(text))


def split_questions(text: str) -> list[str]:
    """The questions in one message, each with the sentence before it when it is too short alone."""
    sentences = [text[s:e].strip() for s, e in sentence_spans(text)]
    found: list[str] = []
    for i, sentence in enumerate(sentences):
        if not is_question(sentence):
            continue
        if len(sentence.split()) < MIN_QUESTION_WORDS and i > 0 and not is_question(sentences[i - 1]):
            sentence = f"{sentences[i - 1]} {sentence}"
        found.append(sentence)
    return found


def latest_customer_messages(messages: list[TicketMessage]) -> tuple[list[TicketMessage], bool]:
    """The customer's latest run of messages (since the agent last wrote, or before the agent's last reply),
    and whether that run opened the ticket (then the subject belongs to it)."""
    end = len(messages)
    while end and messages[end - 1].author != "customer":
        end -= 1
    start = end
    while start and messages[start - 1].author == "customer":
        start -= 1
    return messages[start:end], not any(m.author != "customer" for m in messages[:start])


def customer_text(messages: list[TicketMessage]) -> str:
    """The new words of the customer's latest messages (for detecting the customer's language)."""
    latest, _ = latest_customer_messages(messages)
    return "\n".join(strip_quotes_and_signature(m.text) for m in latest).strip()


def find_questions(subject: str, messages: list[TicketMessage], limit: int) -> list[str]:
    """The customer's questions in their latest messages (the subject too while nobody has replied),
    in order; deduplicated, at most `limit`. Earlier questions were answered by the agent's replies."""
    latest, opens_ticket = latest_customer_messages(messages)
    candidates: list[str] = []
    if opens_ticket and subject.strip() and is_question(subject):
        candidates.append(subject.strip())
    # Agent messages are context the customer reacts to, not questions to answer.
    for message in latest:
        candidates.extend(split_questions(strip_quotes_and_signature(message.text)))
    seen: set[str] = set()
    questions: list[str] = []
    for question in candidates:
        key = re.sub(r"\W+", " ", question).strip().lower()
        if key and key not in seen:
            seen.add(key)
            questions.append(question)
    return questions[:limit]
