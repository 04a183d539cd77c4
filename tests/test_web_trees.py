"""Conversation trees on the page (issue 21), in a real browser: headless
Chromium (Debian's) through Playwright, against the real `chinwag serve` on a
free port, its provider a ScriptedServer on 127.0.0.1 that records every
request.

Edit makes a branch and the server receives the new path and nothing else
(attachments kept), and sent while a reply streams it waits for the reply's
end; `◀ 2/3 ▶` switches the branch in place, sending nothing;
Retry keeps the old reply as a sibling; a reload shows the same branch; two
tabs on two branches each send from their own; Fork opens a copy of the
branch. The routes behind them keep the page's security (session key,
Origin) and refuse bad ids in one line. Screenshots of the arrows and the
edit box go to docs/screenshots/.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.fakes.reply import RecordedRequest
from tests.fakes.server import Reply, ScriptedServer
from tests.test_web_support import SCREENSHOTS, Served, open_page, send, shown_text


def exchange(page: Any, fake: ScriptedServer, question: str, answer: str) -> None:
    """One question sent from the message box and its reply, to the end."""
    fake.enqueue(Reply(chunks=[answer]))
    send(page, question)
    settled(page, answer)


def settled(page: Any, answer: str) -> None:
    """The turn that answers `answer` is over and the page knows the saved
    branch (ids on every bubble)."""
    page.locator(".msg.assistant .body").last.filter(has_text=answer).wait_for()
    page.wait_for_selector("#send:visible")
    page.wait_for_function("() => [...document.querySelectorAll('.msg')].every(m => m.dataset.id)")


def two_answers_and_a_tab_on_the_first(browser: Any, page: Any, served: Served, fake: ScriptedServer,
                                       question: str, first: str, second: str) -> Any:
    """`question` answered `first`, then `second` by Retry, in `page`; a second tab,
    opened on the conversation and switched back to `first` with ◀ (close it after)."""
    exchange(page, fake, question, first)
    fake.enqueue(Reply(chunks=[second]))
    page.click("#retry")
    settled(page, second)
    other = open_page(browser, served.url)
    other.click(".list .item >> nth=0")
    other.wait_for_selector(".msg.assistant .branch-count:has-text('2/2')")
    other.locator(".msg.assistant button[aria-label='Previous version']").click()
    other.wait_for_selector(".msg.assistant .branch-count:has-text('1/2')")
    return other


def shown(page: Any) -> list[str]:
    """The messages the page shows, top to bottom, as the user reads them."""
    bodies = page.locator(".msg > .body")
    return [shown_text(bodies.nth(i)).strip() for i in range(bodies.count())]


def sent(request: RecordedRequest) -> list[tuple[str, str]]:
    """The conversation a request carried: each message's role and its text."""
    said = []
    for message in request.json["messages"]:
        content = message["content"]
        text = content if isinstance(content, str) else " ".join(
            block.get("text", "") for block in content if block.get("type") == "text")
        said.append((message["role"], text))
    return said


def versions(page: Any, index: int) -> str:
    """The `2/3` under the index-th message ("" if it has no siblings)."""
    count = page.locator(".msg").nth(index).locator(".branch-count")
    return str(count.inner_text()) if count.count() else ""


def leaf_in_address(page: Any) -> int:
    match = re.search(r"#c=\d+&m=(\d+)$", page.url)
    assert match, page.url
    return int(match.group(1))


def edit(page: Any, index: int, text: str) -> None:
    message = page.locator(".msg").nth(index)
    message.hover()
    message.locator(".edit-msg").click()
    page.locator(".msg.editing textarea").fill(text)
    page.press(".msg.editing textarea", "Enter")


def test_an_edit_makes_a_branch_and_the_server_receives_the_new_path_and_nothing_else(
        page: Any, fake: ScriptedServer) -> None:
    exchange(page, fake, "What is a heron?", "A wading bird.")
    exchange(page, fake, "How tall is it?", "About a metre.")
    message = page.locator(".msg.user").nth(1)
    message.hover()
    message.locator(".edit-msg").click()
    box = page.locator(".msg.editing textarea")
    assert box.input_value() == "How tall is it?"  # the old text, to change
    box.fill("How heavy is it?")
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".messages").screenshot(path=str(SCREENSHOTS / "edit-box.png"))
    before = len(fake.requests)
    fake.enqueue(Reply(chunks=["About two kilograms."]))
    page.press(".msg.editing textarea", "Enter")
    settled(page, "About two kilograms.")
    assert len(fake.requests) == before + 1
    assert sent(fake.requests[-1]) == [("user", "What is a heron?"), ("assistant", "A wading bird."),
                                       ("user", "How heavy is it?")]  # never the old question or its reply
    assert shown(page) == ["What is a heron?", "A wading bird.", "How heavy is it?", "About two kilograms."]
    assert versions(page, 2) == "2/2" and versions(page, 0) == ""

    # The new branch goes on: the next question is sent on it, the old branch still left out.
    exchange(page, fake, "And its wingspan?", "Nearly two metres.")
    assert [text for _, text in sent(fake.requests[-1])] == [
        "What is a heron?", "A wading bird.", "How heavy is it?", "About two kilograms.", "And its wingspan?"]


def test_an_edit_keeps_the_messages_attachments(page: Any, fake: ScriptedServer, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("herons eat fish and frogs\n")
    page.set_input_files("#file", str(notes))
    page.wait_for_selector("#chips .chip:not(:has-text('uploading'))")
    exchange(page, fake, "Summarise my notes", "They are about herons.")
    first = json.dumps(fake.requests[-1].json["messages"][0])
    assert "herons eat fish" in first

    question = page.locator(".msg.user").first
    question.hover()
    question.locator(".edit-msg").click()
    box = page.locator(".msg.editing textarea")
    assert box.input_value() == "Summarise my notes"  # the words alone: the file stays attached
    assert "notes.txt" in page.locator(".msg.editing .editor .chip").first.inner_text()
    box.fill("List what they eat")
    fake.enqueue(Reply(chunks=["Fish and frogs."]))
    page.press(".msg.editing textarea", "Enter")
    settled(page, "Fish and frogs.")
    edited = fake.requests[-1].json["messages"]
    assert len(edited) == 1 and edited[0]["role"] == "user"
    assert "herons eat fish" in json.dumps(edited[0]) and "List what they eat" in json.dumps(edited[0])
    assert "Summarise my notes" not in json.dumps(edited)
    assert "notes.txt" in page.locator(".msg.user .chip").first.inner_text()  # shown with the new text
    assert versions(page, 0) == "2/2"


def test_sibling_arrows_switch_the_branch_in_place_and_a_reload_shows_the_same_branch(
        page: Any, fake: ScriptedServer) -> None:
    exchange(page, fake, "Name a river", "The Nile.")
    exchange(page, fake, "How long is it?", "About 6,650 km.")
    fake.enqueue(Reply(chunks=["The Amazon."]))
    edit(page, 0, "Name a South American river")
    settled(page, "The Amazon.")
    assert shown(page) == ["Name a South American river", "The Amazon."]
    top = page.locator(".msg.user").first
    requests = len(fake.requests)

    top.locator("button[aria-label='Previous version']").click()
    page.wait_for_selector(".msg.user .branch-count:has-text('1/2')")
    assert shown(page) == ["Name a river", "The Nile.", "How long is it?", "About 6,650 km."]  # its whole branch
    assert len(fake.requests) == requests  # switching asks no model
    assert page.locator("#input").input_value() == ""
    first_branch = leaf_in_address(page)
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.mouse.move(0, 0)
    page.wait_for_timeout(300)  # Copy and Edit fade out with the pointer gone
    page.locator(".messages").screenshot(path=str(SCREENSHOTS / "branch-arrows.png"))

    page.reload()
    page.wait_for_selector(".msg.user .branch-count:has-text('1/2')")
    assert shown(page) == ["Name a river", "The Nile.", "How long is it?", "About 6,650 km."]
    assert leaf_in_address(page) == first_branch

    # The branch shown is the one continued: its path is sent, and nothing from the other.
    exchange(page, fake, "Which countries?", "Eleven of them.")
    assert [text for _, text in sent(fake.requests[-1])] == [
        "Name a river", "The Nile.", "How long is it?", "About 6,650 km.", "Which countries?"]

    page.locator(".msg.user").first.locator("button[aria-label='Next version']").click()
    page.wait_for_selector(".msg.user .branch-count:has-text('2/2')")
    assert shown(page) == ["Name a South American river", "The Amazon."]

    # An address naming a message that is not in the conversation: said in one line, its current branch shown.
    page.goto(page.url.split("#")[0] + "#c=1&m=999")
    page.wait_for_selector("#notice:has-text('there is no message 999 in conversation 1')")
    page.wait_for_selector(".msg.assistant .body:has-text('Eleven of them.')")


def test_retry_keeps_the_old_reply_as_a_sibling(page: Any, fake: ScriptedServer) -> None:
    exchange(page, fake, "Pick a colour", "Blue.")
    fake.enqueue(Reply(chunks=["Green."]))
    page.click("#retry")
    settled(page, "Green.")
    assert sent(fake.requests[-1]) == [("user", "Pick a colour")]
    assert shown(page) == ["Pick a colour", "Green."]
    assert versions(page, 1) == "2/2"
    page.locator(".msg.assistant").first.locator("button[aria-label='Previous version']").click()
    page.wait_for_selector(".msg.assistant .branch-count:has-text('1/2')")
    assert shown(page) == ["Pick a colour", "Blue."]
    exchange(page, fake, "Why that one?", "It is calm.")  # goes on from the reply shown
    assert sent(fake.requests[-1]) == [("user", "Pick a colour"), ("assistant", "Blue."), ("user", "Why that one?")]


def test_a_question_stopped_before_any_reply_stays_shown_and_retry_asks_it_again(
        page: Any, fake: ScriptedServer) -> None:
    """Saved, it is a dead end off the branch (the next question would be its
    sibling); on the page it stays where the user sees it, for Retry."""
    exchange(page, fake, "Hello", "Hi there.")
    held = Reply(chunks=["never shown"], hold_after=0)
    fake.enqueue(held)
    send(page, "Tell me a secret")
    assert fake.wait_requests(2)
    page.click("#stop")
    page.wait_for_selector(".msg.assistant .meta.stopped")
    page.wait_for_selector("#retry:visible")
    assert shown(page)[:3] == ["Hello", "Hi there.", "Tell me a secret"]
    fake.enqueue(Reply(chunks=["Asked again."]))
    page.click("#retry")
    settled(page, "Asked again.")
    assert sent(fake.requests[-1]) == [("user", "Hello"), ("assistant", "Hi there."), ("user", "Tell me a secret")]
    assert shown(page) == ["Hello", "Hi there.", "Tell me a secret", "Asked again."]
    page.reload()
    page.wait_for_selector(".msg.assistant >> nth=1")
    assert shown(page) == ["Hello", "Hi there.", "Tell me a secret", "Asked again."]


def test_two_tabs_on_two_branches_each_send_from_their_own(
        browser: Any, page: Any, served: Served, fake: ScriptedServer) -> None:
    other = two_answers_and_a_tab_on_the_first(browser, page, served, fake, "Suggest a pet", "A cat.", "A dog.")
    assert shown(other) == ["Suggest a pet", "A cat."]
    assert shown(page) == ["Suggest a pet", "A dog."]  # the first tab is not moved

    exchange(page, fake, "How do I walk it?", "On a lead.")
    assert sent(fake.requests[-1]) == [("user", "Suggest a pet"), ("assistant", "A dog."),
                                       ("user", "How do I walk it?")]
    exchange(other, fake, "What does it eat?", "Cat food.")
    assert sent(fake.requests[-1]) == [("user", "Suggest a pet"), ("assistant", "A cat."),
                                       ("user", "What does it eat?")]
    assert shown(page) == ["Suggest a pet", "A dog.", "How do I walk it?", "On a lead."]
    assert shown(other) == ["Suggest a pet", "A cat.", "What does it eat?", "Cat food."]
    page.reload()
    other.reload()
    page.wait_for_selector(".msg.assistant >> nth=1")
    other.wait_for_selector(".msg.assistant >> nth=1")
    assert shown(page) == ["Suggest a pet", "A dog.", "How do I walk it?", "On a lead."]
    assert shown(other) == ["Suggest a pet", "A cat.", "What does it eat?", "Cat food."]
    other.context.close()


def test_a_tab_on_another_branch_does_not_follow_a_reply_streaming_on_the_first(
        browser: Any, page: Any, served: Served, fake: ScriptedServer) -> None:
    other = two_answers_and_a_tab_on_the_first(browser, page, served, fake, "Suggest a book", "Dune.", "Emma.")

    held = Reply(chunks=["Jane Austen wrote it", " in 1815."], hold_after=1)
    fake.enqueue(held)
    send(page, "Who wrote it?")
    page.locator(".msg.assistant .body").last.filter(has_text="Jane Austen").wait_for()
    other.reload()
    other.wait_for_selector("#notice:has-text('another branch')")
    assert shown(other) == ["Suggest a book", "Dune."]  # its own branch, without the other's reply
    assert other.locator("#send").is_visible() and not other.locator("#stop").is_visible()
    requests = len(fake.requests)
    with other.expect_response(lambda r: r.url.endswith("/send")) as refused:
        send(other, "Is it long?")  # one turn at a time in a conversation: refused, the words kept
    assert refused.value.status == 409
    # refused (the notice says so), then shown again on its own branch (the notice says where the reply is)
    other.wait_for_function("() => !window.chinwag.state.busy && document.querySelector('#input').value === 'Is it long?'"
                            " && document.querySelector('#notice').textContent.includes('another branch')")
    assert shown(other) == ["Suggest a book", "Dune."]
    with other.expect_response(lambda r: r.url.endswith("/edit")) as refused:
        edit(other, 0, "Suggest a short book")  # refused too: the edit box stays open with the new words
    assert refused.value.status == 409
    other.wait_for_function("() => !window.chinwag.state.busy"
                            " && document.querySelector('.msg.editing textarea')?.value === 'Suggest a short book'")
    assert len(fake.requests) == requests
    held.release.set()
    settled(page, "in 1815.")
    fake.enqueue(Reply(chunks=["Candide."]))
    other.press(".msg.editing textarea", "Enter")
    settled(other, "Candide.")
    assert sent(fake.requests[-1]) == [("user", "Suggest a short book")]
    fake.enqueue(Reply(chunks=["Quite short."]))
    other.press("#input", "Enter")
    settled(other, "Quite short.")
    assert sent(fake.requests[-1]) == [("user", "Suggest a short book"), ("assistant", "Candide."),
                                       ("user", "Is it long?")]
    other.context.close()


QUEUED = "Sent when this reply ends."


def test_an_edit_sent_while_a_reply_streams_waits_and_is_sent_when_it_ends(page: Any, fake: ScriptedServer) -> None:
    """An edit box open when a reply starts (sent from the message box), sent
    while that reply streams: it used to be ignored without a word (the box
    stayed open, nothing was sent). Now it waits, open, with the message box's
    notice, and is sent when the reply ends, with the words it has then. The
    reply's end is held back by the scripted server (`hold_after`)."""
    exchange(page, fake, "What is a heron?", "A wading bird.")
    message = page.locator(".msg.user").first
    message.hover()
    message.locator(".edit-msg").click()
    box = page.locator(".msg.editing textarea")
    box.fill("What is an egret")
    held = Reply(chunks=["About a metre", " tall."], hold_after=1)
    fake.enqueue(held)
    send(page, "How tall is it?")
    page.locator(".msg.assistant .body").last.filter(has_text="About a metre").wait_for()
    page.press(".msg.editing textarea", "Enter")
    page.locator("#notice").filter(has_text=QUEUED).wait_for()
    assert box.input_value() == "What is an egret"  # waiting, open, still editable
    page.press(".msg.editing textarea", "End")
    page.type(".msg.editing textarea", "?")
    assert len(fake.requests) == 2
    fake.enqueue(Reply(chunks=["A small white heron."]))
    held.release.set()
    settled(page, "A small white heron.")
    assert len(fake.requests) == 3
    assert sent(fake.requests[-1]) == [("user", "What is an egret?")]  # the words it had at the reply's end
    assert shown(page) == ["What is an egret?", "A small white heron."]
    assert versions(page, 0) == "2/2"
    assert QUEUED not in shown_text(page.locator("#notice"))
    assert page.locator(".msg.editing").count() == 0


def test_cancel_calls_a_waiting_edit_off(page: Any, fake: ScriptedServer) -> None:
    """An edit waiting for a reply's end (as above), then Cancel: nothing is sent
    when the reply ends, and the notice is gone."""
    exchange(page, fake, "What is a heron?", "A wading bird.")
    message = page.locator(".msg.user").first
    message.hover()
    message.locator(".edit-msg").click()
    page.locator(".msg.editing textarea").fill("What is an egret?")
    held = Reply(chunks=["About a metre", " tall."], hold_after=1)
    fake.enqueue(held)
    send(page, "How tall is it?")
    page.locator(".msg.assistant .body").last.filter(has_text="About a metre").wait_for()
    page.press(".msg.editing textarea", "Enter")
    page.locator("#notice").filter(has_text=QUEUED).wait_for()
    page.click(".msg.editing .editor button.ghost:has-text('Cancel')")
    page.wait_for_selector("#notice", state="hidden")
    held.release.set()
    settled(page, "tall.")
    assert len(fake.requests) == 2
    assert shown(page) == ["What is a heron?", "A wading bird.", "How tall is it?", "About a metre tall."]


def test_the_arrows_and_the_edit_box_fit_a_phone(browser: Any, served: Served, fake: ScriptedServer) -> None:
    page = open_page(browser, served.url, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    exchange(page, fake, "A question long enough to wrap on a narrow screen, to see the bubble grow", "One.")
    fake.enqueue(Reply(chunks=["Two."]))
    page.click("#retry")
    settled(page, "Two.")
    page.locator(".msg.user .edit-msg").click()  # always shown on a touch screen
    page.wait_for_selector(".msg.editing textarea")
    assert page.locator(".msg.assistant .branch-count").inner_text() == "2/2"
    for selector in (".msg.editing", ".msg.editing textarea", ".msg.assistant .branches"):
        box = page.locator(selector).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, selector
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.context.close()


def test_fork_opens_a_copy_of_the_branch_shown(page: Any, fake: ScriptedServer) -> None:
    exchange(page, fake, "Plan a trip", "Go to Lisbon.")
    fake.enqueue(Reply(chunks=["Go to Porto."]))
    page.click("#retry")
    settled(page, "Go to Porto.")
    page.locator(".msg.assistant button[aria-label='Previous version']").click()
    page.wait_for_selector(".msg.assistant .branch-count:has-text('1/2')")
    original = page.url
    page.click(".conv-tools button.fork")
    page.wait_for_selector("#notice:has-text('Forked')")
    assert page.url != original and re.search(r"#c=2(&m=\d+)?$", page.url), page.url
    assert shown(page) == ["Plan a trip", "Go to Lisbon."]  # the branch shown, and only it
    assert page.locator(".branch-count").count() == 0
    assert page.locator(".list .item").count() == 2
    exchange(page, fake, "For how long?", "Three days.")
    assert sent(fake.requests[-1]) == [("user", "Plan a trip"), ("assistant", "Go to Lisbon."),
                                       ("user", "For how long?")]
    page.click(".list .item >> nth=1")  # the original, unchanged
    page.wait_for_selector(".msg.assistant .branch-count")
    assert "Three days." not in " ".join(shown(page))


def test_the_tree_routes_keep_the_pages_security_and_refuse_bad_ids_in_one_line(
        served: Served, fake: ScriptedServer) -> None:
    fake.enqueue(Reply(chunks=["Saved."]))
    status, _, body = served.request("POST", "/api/chat", body=json.dumps({"text": "hello"}).encode())
    assert status == 200 and b"Saved." in body
    status, headers, body = served.request("GET", "/api/conversations/1")
    assert status == 200
    saved = json.loads(body)
    question, reply = (m["id"] for m in saved["messages"])
    assert saved["leaf"] == reply and saved["messages"][0]["siblings"] == [question]

    for method, path, payload in (("GET", f"/api/conversations/1?leaf={question}", None),
                                  ("POST", "/api/conversations/1/edit", {"message": question, "text": "x"}),
                                  ("POST", "/api/conversations/1/fork", {"leaf": reply})):
        data = json.dumps(payload).encode() if payload is not None else None
        status, headers, _ = served.request(method, path, body=data, cookie=False)
        assert status in (401, 403) and "content-security-policy" in headers
        if method == "POST":  # with the session key but without Origin (a form or a script elsewhere)
            status, _, _ = served.request(method, path, body=data, origin=False)
            assert status == 403
            status, _, _ = served.request(method, path, body=data, headers={"Origin": "http://evil.example"})
            assert status == 403
    for path in ("/static/branches.js", "/static/branches.css"):  # the page's code: the page key only
        assert served.request("GET", path, cookie=False)[0] == 403
        status, headers, _ = served.request("GET", path)
        assert status == 200 and "script-src 'self'" in headers["content-security-policy"]
    assert len(fake.requests) == 1  # nothing was sent, nothing forked
    assert json.loads(served.request("GET", "/api/conversations")[2])["conversations"][0]["id"] == 1

    for path, status_wanted in (("/api/conversations/1?leaf=999", 404), ("/api/conversations/1?leaf=x", 400),
                                ("/api/conversations/1?leaf=99999999999999999999", 400),
                                (f"/api/conversations/1?leaf={question}&at={reply}", 400)):
        status, _, body = served.request("GET", path)
        assert status == status_wanted, (path, body)
        assert "\n" not in json.loads(body)["error"].strip()
    for payload in ({"message": 999, "text": "x"}, {"message": True, "text": "x"}, {"message": "1", "text": "x"},
                    {"text": "x"}, {"message": reply, "text": "an answer is not yours to edit"}):
        status, _, body = served.request("POST", "/api/conversations/1/edit", body=json.dumps(payload).encode())
        assert status == 400, (payload, body)
        error = json.loads(body)["error"]
        assert error and "\n" not in error.strip() and "Traceback" not in error
    status, _, body = served.request("POST", "/api/conversations/1/send",
                                     body=json.dumps({"text": "x", "leaf": 999}).encode())
    assert status == 400 and "999" in json.loads(body)["error"]
    status, _, body = served.request("POST", "/api/conversations/7/fork", body=b'{"leaf": null}')
    assert status == 404
    assert len(fake.requests) == 1  # none of them reached the model
    status, _, body = served.request("GET", "/api/conversations/1")
    assert [m["id"] for m in json.loads(body)["messages"]] == [question, reply]  # nothing changed
