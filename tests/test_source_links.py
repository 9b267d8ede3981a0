"""Links to a source item's live page carry a text fragment that a browser can match on the page."""

from __future__ import annotations

from urllib.parse import unquote

from assistant.source_links import live_url, text_fragment


def terms(url: str) -> list[str]:
    return [unquote(t) for t in url.split(":~:text=", 1)[1].split(",")]


def test_a_short_quote_is_matched_whole() -> None:
    url = live_url("https://help.example/returns", "Gift cards are valid for 24 months.")
    assert url.startswith("https://help.example/returns#:~:text=")
    assert terms(url) == ["Gift cards are valid for 24 months."]


def test_a_long_quote_is_matched_by_its_first_and_last_words() -> None:
    quote = "You can return any item within 30 days of delivery for a full refund and keep the receipt."
    assert terms(live_url("https://help.example/r", quote)) == ["You can return any", "and keep the receipt."]


def test_directive_characters_in_the_words_are_escaped() -> None:
    fragment = text_fragment("Toimitus 2-4 päivää, e-mail & chat")
    assert "-" not in fragment.split("=", 1)[1] and "&" not in fragment and fragment.count(",") == 0
    assert unquote(fragment.split("=", 1)[1]) == "Toimitus 2-4 päivää, e-mail & chat"


def test_table_rows_and_blocks_are_never_one_term() -> None:
    quote = "Plan | Price | Delivery\nBasic | 10 EUR | 3 days\nPremium | 20 EUR | next day"
    start, end = terms(live_url("https://help.example/p", quote))
    assert "|" not in start + end and "\n" not in start + end


def test_a_page_fragment_is_kept_and_empty_quotes_add_nothing() -> None:
    assert live_url("https://help.example/a#section-2", "Short words.").startswith(
        "https://help.example/a#section-2:~:text="
    )
    assert live_url("https://help.example/a", "  \n ") == "https://help.example/a"


def test_thai_without_spaces_is_matched_by_its_opening() -> None:
    quote = "ในช่วงเทศกาลสงกรานต์การจัดส่งอาจล่าช้าสามถึงห้าวันทำการกรุณาแจ้งลูกค้าล่วงหน้า"
    (term,) = terms(live_url("https://help.example/th", quote))
    assert quote.startswith(term) and term
