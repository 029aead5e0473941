"""PII masking: each type masked when valid, left alone when validation fails."""
from __future__ import annotations

import pytest

from corpusforge.text.pii import PLACEHOLDERS, cn_id_is_valid, luhn_is_valid, mask_pii


def _cn_id_with_check(first17: str) -> str:
    # Independent computation of the ISO 7064 MOD 11-2 check character.
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(first17, weights))
    return first17 + "10X98765432"[total % 11]


def _masked(text: str) -> str:
    return mask_pii(text)[0]


def test_email():
    masked, counts = mask_pii("联系我们：service@shop-example.com.cn 或 Li.Lei+news@mail.example.org。")
    assert masked == "联系我们：<EMAIL> 或 <EMAIL>。" and counts["email"] == 2
    assert _masked("@handle and a@b are not addresses") == "@handle and a@b are not addresses"


def test_chinese_resident_id():
    valid = _cn_id_with_check("44030519900307123")
    assert cn_id_is_valid(valid)
    assert _masked(f"身份证号：{valid}，请核对。") == "身份证号：<CN_ID>，请核对。"
    wrong_check = valid[:17] + ("0" if valid[17] != "0" else "1")
    assert not cn_id_is_valid(wrong_check)
    assert "<CN_ID>" not in _masked(f"身份证号：{wrong_check}")
    bad_date = _cn_id_with_check("44030519901337123")  # month 13: not a birth date
    assert "<CN_ID>" not in _masked(bad_date)
    assert _masked(_cn_id_with_check("11010519491231002").lower()) == "<CN_ID>"  # x check digit


def test_payment_cards_need_luhn():
    assert luhn_is_valid("4111111111111111") and not luhn_is_valid("4111111111111121")
    masked, counts = mask_pii("Visa 4111-1111-1111-1111, Amex 3782 822463 10005.")
    assert masked == "Visa <CARD>, Amex <CARD>." and counts["card"] == 2
    assert _masked("order 4111 1111 1111 1121") == "order 4111 1111 1111 1121"
    assert _masked("tracking 1234567890123456") == "tracking 1234567890123456"


def test_public_ips_only():
    masked, counts = mask_pii("hit from 203.0.113.9? no: 8.8.8.8 and 2606:4700:4700::1111")
    assert masked == "hit from 203.0.113.9? no: <IP> and <IP>"  # 203.0.113/24 is documentation
    assert counts["ip"] == 2
    for private in ("10.0.0.1", "192.168.1.20", "172.16.5.4", "127.0.0.1", "::1", "fe80::1", "0.0.0.0"):
        assert _masked(f"server {private} up") == f"server {private} up"
    assert _masked("256.1.1.1") == "256.1.1.1"


def test_versions_dates_and_times_are_not_ips_or_phones():
    for text in ("version 1.2.3.4", "v1.2.3.4", "版本 2.0.1.3", "release 4.4.0.1-rc",
                 "python 3.11.4.1.2", "on 2020.06.16 at 10:30:45", "2020-06-16 02:31",
                 "第2020061602期", "ISBN 978-7-111-40701-0", "price 1,299.00"):
        assert _masked(text) == text, text


def test_phone_numbers():
    masked, counts = mask_pii(
        "手机 13917985004 或 +86 139-1798-5004，电话 021-56692669；London +44 20 7946 0958; US +1 (415) 555-0132."
    )
    assert masked == "手机 <PHONE> 或 <PHONE>，电话 <PHONE>；London <PHONE>; US <PHONE>."
    assert counts["phone"] == 5
    assert _masked("12917985004") == "12917985004"  # 12x is not a mobile prefix
    assert _masked("score +3 1") == "score +3 1"  # too few digits for a phone number


def test_counts_have_every_type():
    _, counts = mask_pii("nothing here")
    assert counts == dict.fromkeys(PLACEHOLDERS, 0)
    assert mask_pii("a@b.org 8.8.8.8") == ("<EMAIL> <IP>", {**dict.fromkeys(PLACEHOLDERS, 0), "email": 1, "ip": 1})


@pytest.mark.parametrize("placeholder", list(PLACEHOLDERS.values()))
def test_masking_is_idempotent(placeholder):
    assert mask_pii(placeholder)[0] == placeholder
