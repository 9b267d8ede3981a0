"""/v1/suggest on a five-message ticket against one /v1/ask: p50/p95 through the HTTP app, in process.

Each ticket alternates customer and agent messages (customer, agent, customer, agent, customer);
its last customer email holds three or four questions, a signature and a quoted earlier reply. Each
request runs with the query cache cleared, and the same questions are also sent one by one to
/v1/ask. Target: the ticket's p50 at most 3x one /v1/ask's p50.

Usage: .venv/bin/python -m benchmarks.suggest_latency --index DIR [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.components import build_service
from assistant.settings import Settings
from benchmarks.machine import machine_info
from benchmarks.query_latency import percentile

# (subject, the five messages) per ticket, two per language, on the demo knowledge base's topics.
TICKETS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Return of a lamp",
        [
            ("customer", "Hi, my lamp arrived yesterday but I do not like it. Can I send it back?"),
            ("agent", "Of course. Could you tell me your order number?"),
            ("customer", "It is 10442. Thanks!"),
            ("agent", "Thank you, I found the order."),
            (
                "customer",
                "How many days do I have to return an item? Who pays for the return shipping? "
                "How long does the refund take?\n\nBest regards\nAnna\n\n"
                "On Mon, 1 Dec 2026 at 10:00 Nordvik Support <support@nordvik.example> wrote:\n"
                "> Thank you, I found the order.",
            ),
        ],
    ),
    (
        "Gift card and payment",
        [
            ("customer", "Hello, I want to buy a present for my sister."),
            ("agent", "Happy to help! What would you like to know?"),
            ("customer", "She lives in Finland."),
            ("agent", "We deliver all over Finland."),
            (
                "customer",
                "Do your gift cards expire? Can I pay by invoice? How do I change my password? "
                "Can I change the delivery address after ordering?\n\nThanks,\nMark",
            ),
        ],
    ),
    (
        "Palautus",
        [
            ("customer", "Hei, tilasin sohvan viime viikolla."),
            ("agent", "Hei! Miten voin auttaa?"),
            ("customer", "Sohva ei sovi olohuoneeseen."),
            ("agent", "Harmillista, selvitetään asia."),
            (
                "customer",
                "Kuinka monta päivää minulla on aikaa palauttaa tuote? Voinko noutaa tilauksen Helsingin "
                "myymälästä? Mitä maksutapoja teillä on?\n\nYstävällisin terveisin\nMatti",
            ),
        ],
    ),
    (
        "Toimitus",
        [
            ("customer", "Hei, odotan pakettia."),
            ("agent", "Hei! Mikä on tilausnumerosi?"),
            ("customer", "Numero on 20931."),
            ("agent", "Kiitos, tarkistan."),
            (
                "customer",
                "Milloin paketti saapuu? Paljonko toimitus maksaa? Voinko peruuttaa tilauksen vielä?\nTerveisin\nLiisa",
            ),
        ],
    ),
    (
        "Zwrot i płatność",
        [
            ("customer", "Dzień dobry, kupiłem krzesło."),
            ("agent", "Dzień dobry! W czym mogę pomóc?"),
            ("customer", "Krzesło ma uszkodzoną nogę."),
            ("agent", "Przykro mi, sprawdzę to."),
            (
                "customer",
                "Ile dni mam na odstąpienie od umowy? Czy mogę zapłacić BLIK? Jak złożyć reklamację?\n\n"
                "Pozdrawiam\nJan\n\nW dniu 1.12.2026 Nordvik napisał:\n> Przykro mi, sprawdzę to.",
            ),
        ],
    ),
    (
        "Faktura",
        [
            ("customer", "Dzień dobry, zamawiam dla firmy."),
            ("agent", "Dzień dobry! Chętnie pomogę."),
            ("customer", "Potrzebuję dokumentów."),
            ("agent", "Jakich dokumentów?"),
            (
                "customer",
                "Jak pobrać fakturę VAT? Czy mogę odebrać paczkę w Paczkomacie? Jak działa program "
                "lojalnościowy Klub Nordvik?\nZ poważaniem\nEwa",
            ),
        ],
    ),
    (
        "คืนสินค้า",
        [
            ("customer", "สวัสดีค่ะ สั่งโต๊ะไปเมื่อวาน"),
            ("agent", "สวัสดีครับ มีอะไรให้ช่วยไหมครับ"),
            ("customer", "โต๊ะมีรอยขีดข่วนค่ะ"),
            ("agent", "ขออภัยครับ จะตรวจสอบให้"),
            (
                "customer",
                "คืนสินค้าได้ภายในกี่วันคะ ชำระเงินปลายทางได้ไหมคะ ช่วงสงกรานต์จัดส่งล่าช้าไหมคะ\nขอบคุณค่ะ\nสมหญิง",
            ),
        ],
    ),
    (
        "ใบกำกับภาษี",
        [
            ("customer", "สวัสดีครับ"),
            ("agent", "สวัสดีครับ ยินดีให้บริการ"),
            ("customer", "ผมซื้อของให้บริษัทครับ"),
            ("agent", "รับทราบครับ"),
            ("customer", "ขอใบกำกับภาษีได้อย่างไรครับ จัดส่งทั่วประเทศไทยใช้เวลากี่วันครับ\nขอบคุณครับ\nสมชาย"),
        ],
    ),
]


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", type=Path, default=Path("indexes/default"))
    parser.add_argument("--rounds", type=int, default=5, help="Requests per ticket and per question.")
    args = parser.parse_args()
    settings = Settings(index_dir=args.index, rate_limit_per_minute=0)
    service = build_service(settings)
    service.load()
    cache = service._query_cache
    suggest_ms: list[float] = []
    ask_ms: list[float] = []
    questions_per_ticket: list[int] = []
    with TestClient(create_app(service, settings)) as client:
        bodies = [
            {"subject": subject, "messages": [{"author": a, "text": t} for a, t in messages]}
            for subject, messages in TICKETS
        ]
        # Warm-up: model, language detector, stemmers, Thai segmenter, the app itself.
        for body in bodies:
            client.post("/v1/suggest", json=body).raise_for_status()
        for body in bodies:
            questions = [q["question"] for q in client.post("/v1/suggest", json=body).json()["questions"]]
            questions_per_ticket.append(len(questions))
            for _ in range(args.rounds):
                cache.clear()
                started = time.perf_counter()
                client.post("/v1/suggest", json=body).raise_for_status()
                suggest_ms.append(_ms(started))
                for question in questions:
                    cache.clear()
                    started = time.perf_counter()
                    client.post("/v1/ask", json={"question": question}).raise_for_status()
                    ask_ms.append(_ms(started))
    print(
        f"Machine: {machine_info()}  \nIndex: {args.index} ({len(service.retriever().index.chunks)} chunks), "
        f"{len(TICKETS)} five-message tickets in four languages, {sum(questions_per_ticket)} questions found "
        f"({min(questions_per_ticket)}-{max(questions_per_ticket)} per ticket), {args.rounds} rounds, "
        "query cache cleared before every request\n"
    )
    print("| request | p50 ms | p95 ms |\n|---|---:|---:|")
    for name, values in (("one /v1/ask", ask_ms), ("/v1/suggest, one five-message ticket", suggest_ms)):
        print(f"| {name} | {statistics.median(values):.1f} | {percentile(values, 0.95):.1f} |")
    ratio = statistics.median(suggest_ms) / statistics.median(ask_ms)
    print(f"\n/v1/suggest on a five-message ticket / one /v1/ask (p50): {ratio:.2f}x (target at most 3x)")


if __name__ == "__main__":
    main()
