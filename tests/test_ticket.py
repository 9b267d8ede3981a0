"""Finding the customer's questions in a ticket: quoted replies and signatures are never questions."""

from __future__ import annotations

from assistant.ticket import TicketMessage, find_questions


def customer(text: str) -> TicketMessage:
    return TicketMessage("customer", text)


def test_english_email_with_quoted_reply_and_signature() -> None:
    text = (
        "Hi,\nI bought a sofa last week. How many days do I have to return it? Also, can I pay with BLIK?\n\n"
        "Best regards\nJohn Smith\n\nOn Mon, 1 Dec 2026 at 10:00 Support <s@x.com> wrote:\n> Is it broken?\n"
    )
    agent = TicketMessage("agent", "What is your order number?")
    questions = find_questions("Return", [customer(text), agent], 5)
    assert questions == ["How many days do I have to return it?", "Also, can I pay with BLIK?"]


def test_polish_email_drops_quoted_text_after_w_dniu_napisal() -> None:
    text = (
        "Dzień dobry. Ile dni mam na zwrot? Czy mogę zapłacić BLIK?\nPozdrawiam\nJan\n"
        "W dniu 1.12 Support napisał:\n> Czy to działa?"
    )
    assert find_questions("", [customer(text)], 5) == ["Ile dni mam na zwrot?", "Czy mogę zapłacić BLIK?"]


def test_finnish_outlook_block_and_signature_are_not_questions() -> None:
    text = (
        "Moi! Milloin paketti saapuu?\nYstävällisin terveisin\nMatti\n"
        "From: Tuki\nSent: maanantai\nOnko tilaus lähetetty?"
    )
    assert find_questions("", [customer(text)], 5) == ["Moi! Milloin paketti saapuu?"]


def test_thai_questions_without_question_marks() -> None:
    text = "สวัสดีค่ะ คืนสินค้าได้ภายในกี่วันคะ ต้องจ่ายค่าส่งไหม\nขอบคุณค่ะ\nสมหญิง"
    questions = find_questions("", [customer(text)], 5)
    # "within how many days" (กี่) and "do I pay for shipping" (ไหม) are two questions; the name is neither.
    assert len(questions) == 2 and "กี่วัน" in questions[0] and questions[1] == "ต้องจ่ายค่าส่งไหม"
    assert all("สมหญิง" not in q for q in questions)


def test_duplicates_are_dropped_and_the_count_is_capped() -> None:
    text = "Can I return it? Can I return it! What does shipping cost? Where is my parcel?"
    assert find_questions("Can I return it?", [customer(text)], 2) == ["Can I return it?", "What does shipping cost?"]


def test_a_ticket_without_questions_has_none() -> None:
    assert find_questions("Thanks", [customer("Thank you, all sorted now.")], 5) == []


def test_only_the_customers_latest_messages_ask_and_the_subject_only_before_any_reply() -> None:
    first = customer("Can I return a lamp?")
    reply = TicketMessage("agent", "Which lamp is it? When did it arrive?")
    later = customer("The floor lamp. How long does the refund take?")
    assert find_questions("Is the refund free?", [first], 5) == ["Is the refund free?", "Can I return a lamp?"]
    assert find_questions("Is the refund free?", [first, reply, later], 5) == ["How long does the refund take?"]
    assert find_questions("", [first, reply], 5) == ["Can I return a lamp?"]
