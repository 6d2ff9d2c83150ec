"""A patient asking for their link again: "Text it to me" pressed again and again sends one
text, and only the first text to a number says how to opt out."""
from __future__ import annotations

from urllib.parse import urlsplit

from scheduler import worker
from tests.support.messaging import THURSDAY_10, book, messages

STOP = "Reply STOP to opt out"


def _press_text_it_to_me(client, clock, booking: dict, times: int) -> None:
    path = urlsplit(booking["manage_url"]).path
    for _ in range(times):
        assert client.post(f"{path}/send-link", data={"channel": "sms"}).status_code == 303
        clock.advance(seconds=20)  # "has it come yet?" and pressed again


def test_text_it_to_me_pressed_three_times_sends_one_text(client, clock):
    booking = book(client, THURSDAY_10)
    worker.run_once()
    _press_text_it_to_me(client, clock, booking, 2)
    worker.run_once()  # the first went out; a third press a moment later sends nothing more
    _press_text_it_to_me(client, clock, booking, 1)
    worker.run_once()
    links = messages(appointment_id=booking["id"], kind="links", channel="sms")
    assert [m.status for m in links] == ["sent"]
    # A few minutes later the patient may ask again, and gets one more.
    clock.advance(minutes=10)
    _press_text_it_to_me(client, clock, booking, 2)
    worker.run_once()
    assert len(messages(appointment_id=booking["id"], kind="links", channel="sms")) == 2


def test_the_opt_out_line_goes_on_the_first_text_to_a_number_only(client, clock):
    """The confirmation and the requested link go out in one pass to a number never texted
    before: one of them says how to opt out, not both."""
    booking = book(client, THURSDAY_10)
    _press_text_it_to_me(client, clock, booking, 1)
    worker.run_once()
    texts = [m for m in messages(appointment_id=booking["id"], channel="sms") if m.status == "sent"]
    assert {m.kind for m in texts} == {"confirmation", "links"}
    assert [STOP in m.body for m in sorted(texts, key=lambda m: m.id)] == [True, False]
