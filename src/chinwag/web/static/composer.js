// chinwag serve: the message box and the turns sent from the page (send, retry,
// continue, edit, prompt), a message sent while a reply streams (it waits for
// the reply's end), Stop, and attachments.
"use strict";

(() => {
  const cw = window.chinwag;
  const {
    ui, state, hooks, make, showNotice, WORDS, call, stale, STALE_PAGE, SERVER_GONE, LOST, loadList,
    markCurrent, bubble, userBubble, setMeta, ReplyView, follow, lastAssistant
  } = cw;
  // Defined by a script loaded after this one: looked up when called.
  const openConversation = (...args) => cw.openConversation(...args);
  const setTitle = (...args) => cw.setTitle(...args);

  function setBusy(busy) {
    state.busy = busy;
    ui.messages.classList.toggle("busy", busy);
    ui.send.hidden = busy;
    ui.stop.hidden = !busy;
    const hasReply = !!ui.messages.querySelector(".msg.assistant");
    ui.retry.hidden = busy || !state.cid || !hasReply;
    ui.cont.hidden = busy || !state.cid || !(state.last === "interrupted" || state.last === "stopped");
  }

  // The stream this page follows now; navigating away lets go of it (the
  // server stops a reply nobody follows after a few seconds).
  function follows(controller) {
    if (state.controller) state.controller.abort();
    state.controller = controller;
    state.busy = !!controller;
  }

  function letGo(controller) {
    if (state.controller !== controller) return false;
    state.controller = null;
    setBusy(false);
    if (state.queued) sendQueued();
    return true;
  }

  const QUEUED = "Sent when this reply ends.";

  // Enter while a reply streams (or before its end has arrived, the text all
  // shown): the message waits in its box, and is sent when the reply ends, as
  // the terminal sends a line typed ahead at its next prompt. Emptying the box,
  // opening another conversation or a new chat calls it off. An edit box sent
  // meanwhile waits the same way (`waiting`: its send(), from branches.js; its
  // Cancel calls it off). One message waits at a time, the last one sent; one
  // it replaces stays in its box, unsent.
  function sendAfter(waiting) {
    if (!waiting && !ui.input.value.trim() && !state.pending.some((a) => a.id)) return;
    state.queued = waiting || true;
    showNotice(QUEUED);
  }

  function sendQueued() {
    if (!state.queued || state.busy) return;
    const waiting = state.queued;
    callOff();
    if (waiting === true) turn("send");
    else waiting.send();
  }

  function callOff() {
    state.queued = false;
    if (ui.notice.textContent === QUEUED) showNotice("");
  }

  // A turn: "send" (the message box), "retry", "continue", "edit" (`edit`:
  // the message edited, its new text and its attachments' lines), or "prompt"
  // (`prompt`: an MCP prompt's {server, name, arguments}, from mcp.js).
  async function turn(action, edit, prompt) {
    if (state.busy) {
      if (action === "send") sendAfter();
      return;
    }
    const text = edit ? edit.text : ui.input.value;
    const sends = action === "send" || action === "prompt"; // with the attachments pending
    const attached = sends ? state.pending.filter((a) => a.id) : [];
    if (sends && state.uploading) {
      showNotice("An attachment is still uploading.");
      return;
    }
    if (action === "send" && !text.trim() && !attached.length) return;
    // The request leaves first; the page is updated while it travels.
    const controller = new AbortController();
    const url = state.cid ? `/api/conversations/${state.cid}/${action}` : "/api/chat";
    const body = { text: action === "send" || edit ? text : "", model: ui.model.value || null,
                   attachments: attached.map((a) => a.id), leaf: state.leaf };
    if (edit) body.message = edit.message;
    if (prompt) body.prompt = prompt;
    const request = call(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    follows(controller);
    // The page shows the question once the server has taken it (a few ms), so
    // drawing it does not compete with sending it; at most a frame later.
    await Promise.race([request.catch(() => null), new Promise((r) => setTimeout(r, 30))]);
    if (state.controller !== controller) return;
    showNotice("");
    let node;
    let asked = null;
    let replaced = []; // what an edit or a retry takes off the page, shown again if it is not sent
    if (edit) {
      const nodes = [...ui.messages.querySelectorAll(".msg")];
      replaced = nodes.slice(nodes.indexOf(edit.node));
      for (const old of replaced) old.remove();
      userBubble(text, edit.lines);
      node = bubble("assistant", "streaming");
    } else if (action === "send") {
      asked = userBubble(text, attached.map((a) => a.line));
      if (ui.input.value === text) { // (words typed in the moment since stay)
        ui.input.value = "";
        state.queued = false; // an Enter pressed again meanwhile was for these words
      }
      setPending([]);
      grow();
      if (!state.cid) setTitle(text.trim().split("\n")[0].slice(0, 80));
      node = bubble("assistant", "streaming");
    } else if (action === "prompt") { // its messages come from the server: the `asked` op fills this
      asked = userBubble("", attached.map((a) => a.line));
      asked.classList.add("prompt");
      setPending([]);
      node = bubble("assistant", "streaming");
    } else if (action === "retry") {
      const old = lastAssistant();
      if (old) {
        old.remove();
        replaced = [old]; // a sibling of the new reply, once it is saved; back if nothing is sent
      }
      node = bubble("assistant", "streaming");
    } else {
      node = lastAssistant() || bubble("assistant", "streaming");
    }
    setMeta(node, "streaming", "…");
    window.scrollTo(0, document.documentElement.scrollHeight);
    state.last = null;
    setBusy(true);
    let answered = false; // the server took the request (it may fail later)
    const unsent = () => { // not sent: the words (and attachments) are kept, the bubbles go
      callOff(); // and a message that waited behind it stays in its box, unsent
      if (asked) {
        asked.remove();
        if (!ui.input.value) ui.input.value = text;
        else if (action === "send" && ui.input.value !== text) ui.input.value = text + "\n" + ui.input.value; // typed since: both kept
        if (!state.pending.length) setPending(attached);
        grow();
      }
      if (action === "continue") setMeta(node, state.last = "interrupted", "");
      else node.remove();
      if (edit) ui.messages.lastElementChild.remove(); // the edited question
      ui.messages.append(...replaced);
      if (edit) hooks.editNotSent(edit.node, text);
      if (!ui.messages.querySelector(".msg")) ui.empty.hidden = false;
    };
    try {
      const response = await request;
      answered = true;
      if (!response.ok) {
        const problem = await response.json().catch(() => ({ error: response.statusText }));
        unsent();
        showNotice(stale(response) ? STALE_PAGE : problem.error);
        if (response.status === 409 && !edit && state.cid && letGo(controller)) {
          // another tab's reply: followed if it continues this tab's branch (an edit
          // refused stays open with its words instead, to send once that reply ends)
          await openConversation(state.cid, true, state.leaf ? { at: state.leaf } : null);
        }
        return;
      }
      const view = new ReplyView(node);
      view.question = asked; // a prompt's bubble, filled by its `asked` op
      await follow(response, view);
      if (state.controller === controller) hooks.settled(node.leaf); // its ids, once saved (not awaited)
    } catch (error) {
      if (error.name !== "AbortError") {
        if (!answered) {
          unsent();
          showNotice(SERVER_GONE);
        } else {
          if (node.dataset.status === "streaming") setMeta(node, state.last = "interrupted", WORDS.interruptedBecause + LOST);
          showNotice(LOST + " Reload the page to see what was saved.");
        }
      }
    } finally {
      if (letGo(controller) && answered) { // (a server that is gone has no list to give)
        markCurrent();
        loadList();
      }
    }
  }

  async function stop() {
    if (!state.cid) return;
    ui.stop.disabled = true;
    try {
      await call(`/api/conversations/${state.cid}/stop`, { method: "POST" });
    } finally {
      ui.stop.disabled = false;
    }
  }

  // -- attachments: picked or dropped, uploaded at once, sent with the next message ---

  function setPending(list) {
    state.pending = list;
    ui.chips.replaceChildren();
    for (const item of list) {
      const chip = make("span", "chip" + (item.id ? "" : " refused"), item.line);
      const remove = make("button", "", "×");
      remove.type = "button";
      remove.setAttribute("aria-label", "Remove");
      remove.addEventListener("click", () => setPending(state.pending.filter((a) => a !== item)));
      chip.append(remove);
      ui.chips.append(chip);
    }
    ui.chips.hidden = !list.length;
  }

  async function upload(files) {
    for (const file of files) {
      state.uploading += 1;
      const item = { id: null, line: "📎 " + file.name + " · uploading…" };
      setPending([...state.pending, item]);
      try {
        const query = "?name=" + encodeURIComponent(file.name) + "&model=" + encodeURIComponent(ui.model.value || "");
        const response = await call("/api/attach" + query, {
          method: "POST", headers: { "content-type": "application/octet-stream" }, body: file,
        });
        const data = await response.json().catch(() => ({ error: response.statusText }));
        if (response.ok) {
          item.id = data.id;
          item.line = data.line;
        } else {
          item.line = "📎 " + file.name + ": " + (data.error || "refused");
        }
      } catch (error) {
        item.line = "📎 " + file.name + ": the upload failed";
      } finally {
        state.uploading -= 1;
      }
      setPending([...state.pending]);
    }
  }

  // -- input -----------------------------------------------------------------------------

  function grow() {
    ui.input.style.height = "auto";
    ui.input.style.height = Math.min(ui.input.scrollHeight, 240) + "px";
  }

  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    turn("send");
  });
  ui.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      turn("send");
    }
  });
  ui.input.addEventListener("input", () => {
    grow();
    if (state.queued === true && !ui.input.value.trim()) callOff(); // (an edit waiting is the edit box's)
  });
  ui.attach.addEventListener("click", () => ui.file.click());
  ui.file.addEventListener("change", () => {
    const files = [...ui.file.files];
    ui.file.value = "";
    upload(files);
  });
  ui.composer.addEventListener("dragover", (event) => {
    if (event.dataTransfer && [...event.dataTransfer.types].includes("Files")) {
      event.preventDefault();
      ui.composer.classList.add("dropping");
    }
  });
  ui.composer.addEventListener("dragleave", () => ui.composer.classList.remove("dropping"));
  ui.composer.addEventListener("drop", (event) => {
    ui.composer.classList.remove("dropping");
    if (event.dataTransfer && event.dataTransfer.files.length) {
      event.preventDefault();
      upload([...event.dataTransfer.files]);
    }
  });
  ui.stop.addEventListener("click", stop);
  ui.retry.addEventListener("click", () => turn("retry"));
  ui.cont.addEventListener("click", () => turn("continue"));

  Object.assign(cw, { setBusy, follows, letGo, sendAfter, callOff, turn, stop, setPending });
})();
