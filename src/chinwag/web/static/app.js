// chinwag serve: the page. Plain JS, no framework, nothing from elsewhere.
// Replies arrive as server-rendered HTML operations over an event stream
// (fetch + reader): finished blocks are appended once, only the live block
// is replaced. Model output is escaped on the server; user text goes in as
// textContent; nothing here evaluates strings.
// Its parts are files of their own, loaded before this one by index.html, in
// page.js, server.js, sidebar.js, reply.js, questions.js; they share names through
// window.chinwag. This one starts the page.
"use strict";

(() => {
  const {
    ui, state, hooks, make, shown, showNotice, WORDS, call, getJSON, stale, STALE_PAGE, SERVER_GONE,
    LOST, ELSEWHERE, loadList, markCurrent, closeSidebar, bubble, userBubble, setMeta,
    statusLine, ReplyView, follow, lastAssistant
  } = window.chinwag;

  const QUEUED = "Sent when this reply ends.";

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

  // Enter while a reply streams (or before its end has arrived, the text all
  // shown): the message waits in its box, and is sent when the reply ends, as
  // the terminal sends a line typed ahead at its next prompt. Emptying the box,
  // opening another conversation or a new chat calls it off.
  function sendAfter() {
    if (!ui.input.value.trim() && !state.pending.some((a) => a.id)) return;
    state.queued = true;
    showNotice(QUEUED);
  }

  function sendQueued() {
    if (!state.queued || state.busy) return;
    callOff();
    turn("send");
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

  // -- opening a conversation --------------------------------------------------------

  function clearMessages() {
    for (const node of ui.messages.querySelectorAll(".msg")) node.remove();
    ui.empty.hidden = false;
  }

  function pickModel(model) {
    if (!model) return;
    for (const option of ui.model.options) {
      if (option.value === model || option.value.endsWith(":" + model)) {
        ui.model.value = option.value;
        return;
      }
    }
  }

  // `where`: the branch to show, { leaf: ID } exactly or { at: ID } through a
  // message (its newest continuation); without it, the conversation's current one.
  async function openConversation(cid, keepNotice, where) {
    state.queued = false;
    follows(null);
    setBusy(false);
    let data;
    try {
      data = await getJSON(branchPath(cid, where));
    } catch (error) {
      showNotice("Could not open that conversation: " + error.message);
      if (where && error.message !== STALE_PAGE) await openConversation(cid, true); // its current branch, then
      return;
    }
    if (!keepNotice) showNotice("");
    state.cid = cid;
    state.last = null;
    announce();
    setTitle(data.title);
    pickModel(data.model);
    hooks.opened(data); // usage.js: the conversation's cost
    showMessages(data.messages, null);
    setLeaf(data.leaf);
    markCurrent();
    window.scrollTo(0, document.documentElement.scrollHeight);
    if (data.elsewhere) showNotice(ELSEWHERE);
    if (data.live) await followLive(cid);
    else setBusy(false);
  }

  // -- the branch this tab shows ----------------------------------------------------------
  // A conversation is a tree; the page shows one path through it, root to leaf.
  // The address says which (#c=ID&m=LEAF), so a reload shows the same branch
  // (with what was added below its leaf since) whatever another tab or the
  // terminal did meanwhile; a turn sent from here continues exactly that leaf.

  function setLeaf(leaf) {
    state.leaf = leaf || null;
    if (state.cid) history.replaceState(null, "", "#c=" + state.cid + (state.leaf ? "&m=" + state.leaf : ""));
  }

  function branchPath(cid, where) {
    if (where && where.leaf) return `/api/conversations/${cid}?leaf=${Number(where.leaf)}`;
    if (where && where.at) return `/api/conversations/${cid}?at=${Number(where.at)}`;
    return "/api/conversations/" + cid;
  }

  // Saved messages as bubbles, in place of those from `from` down (all when null).
  function showMessages(messages, from) {
    if (!from) clearMessages();
    for (let node = from; node;) {
      const next = node.nextElementSibling;
      if (node.classList.contains("msg")) node.remove();
      node = next;
    }
    for (const message of messages) {
      const node = bubble(message.role, message.status);
      node.querySelector(".body").innerHTML = message.html; // escaped by the server
      node.markdown = message.markdown || "";
      if (message.role === "assistant") {
        setMeta(node, message.status, statusLine(message.status, "") || message.model || "");
        state.last = message.status;
      }
      identify(node, message);
    }
  }

  // A bubble's message: its id and its siblings' (branches.js draws the edit
  // button and the arrows from them).
  function identify(node, message) {
    node.dataset.id = message.id;
    node.siblings = message.siblings || [message.id];
    if (typeof message.words === "string") node.words = message.words; // a question's text, without files
    hooks.identified(node, message);
  }

  async function followLive(cid) {
    const controller = new AbortController();
    follows(controller);
    setBusy(true);
    try {
      const response = await call(`/api/conversations/${cid}/live`, { signal: controller.signal });
      if (stale(response)) showNotice(STALE_PAGE);
      if (response.status !== 200) return;
      let node = lastAssistant();
      if (!node || node.dataset.status !== "streaming") node = bubble("assistant", "streaming");
      await follow(response, new ReplyView(node));
      if (state.controller === controller) hooks.settled(node.leaf); // its ids, once saved (not awaited)
    } catch (error) {
      if (error.name !== "AbortError") showNotice(LOST + " Reload the page to see what was saved.");
    } finally {
      if (letGo(controller)) loadList();
    }
  }

  // Tells the page's other scripts (daily.js) which conversation is shown now.
  function announce() {
    document.dispatchEvent(new CustomEvent("chinwag:conversation", { detail: state.cid }));
  }

  // The conversation's title, in the header and on the tab.
  function setTitle(title) {
    ui.title.textContent = shown(title);
    document.title = shown(title);
  }

  function newChat() {
    state.queued = false;
    follows(null);
    state.cid = null;
    state.leaf = null;
    state.last = null;
    announce();
    history.replaceState(null, "", location.pathname);
    clearMessages();
    showNotice("");
    ui.title.textContent = "New chat";
    document.title = "New chat · chinwag";
    setBusy(false);
    markCurrent();
    closeSidebar();
    ui.input.focus();
  }

  function route() {
    const match = /^#c=(\d+)(?:&m=(\d+))?$/.exec(location.hash);
    if (!match) return;
    const cid = Number(match[1]);
    const leaf = match[2] ? Number(match[2]) : null;
    if (cid !== state.cid || (leaf && leaf !== state.leaf && !state.busy)) {
      openConversation(cid, false, leaf ? { at: leaf } : null);
      closeSidebar();
    } else if (cid === state.cid && !leaf) {
      setLeaf(state.leaf); // the list's link to the conversation shown: it stays on its branch
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

  // The model picker: what is known at once, then (without waiting for it) what
  // each provider's server lists, grouped by provider.
  async function loadModels() {
    try {
      const data = await getJSON("/api/models");
      fillModels(data);
      if (!data.complete) listModelsWhenReachedFor();
    } catch (error) {
      showNotice("Could not list the models: " + error.message);
    }
  }

  // Each provider's server is asked for its models once the user reaches for
  // the picker (the pointer over it, a touch, the keyboard's focus).
  function listModelsWhenReachedFor() {
    const events = ["pointerenter", "touchstart", "focus"];
    const ask = () => {
      for (const name of events) ui.model.removeEventListener(name, ask);
      getJSON("/api/models?wait=1").then(fillModels, () => {});
    };
    for (const name of events) ui.model.addEventListener(name, ask, { passive: true });
  }

  function fillModels(data) {
    const chosen = ui.model.value || data.default;
    const groups = new Map();
    for (const model of data.models) {
      const name = model.group || "Models";
      if (!groups.has(name)) {
        const group = make("optgroup");
        group.label = name;
        groups.set(name, group);
      }
      const option = make("option", "", model.label);
      option.value = model.spec;
      groups.get(name).append(option);
    }
    ui.model.replaceChildren(...groups.values());
    ui.model.value = chosen;
    if (ui.model.value !== chosen) ui.model.value = data.default;
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
    if (state.queued && !ui.input.value.trim()) callOff();
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
  ui.newChat.addEventListener("click", newChat);
  window.addEventListener("hashchange", route);

  Object.assign(window.chinwag, {
    openConversation, newChat, stop, setTitle, turn, setBusy, setLeaf, branchPath, showMessages,
    followLive, identify, setPending, announce
  });

  (async () => {
    await loadModels();
    await loadList();
    if (/^#c=\d+(&m=\d+)?$/.test(location.hash)) route();
    else setBusy(state.busy); // a reply may have been sent meanwhile
    ui.input.focus();
  })();
})();
