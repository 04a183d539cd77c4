// chinwag serve: a conversation as a tree, on top of app.js (reached only
// through window.chinwag). Each message with siblings shows `◀ 2/3 ▶`, which
// switches to another branch in place; the user's messages have Edit (the
// edited text is sent as a new sibling, its attachments kept, and the old
// branch stays); Fork opens a new conversation copying the branch shown.
// Which branch this tab shows (and sends from) is `state.leaf` (page.js).
"use strict";

(() => {
  const cw = window.chinwag;
  const { ui, state, make } = cw;

  // -- the arrows and the edit button, drawn when a bubble learns its message -------

  function arrow(label, title, target) {
    const button = make("button", "branch-arrow", label);
    button.type = "button";
    button.title = title;
    button.setAttribute("aria-label", title);
    if (target === undefined) button.disabled = true;
    else button.dataset.target = target;
    return button;
  }

  function identified(node) {
    for (const old of node.querySelectorAll(":scope > .msg-tools, :scope > .edit-msg")) old.remove();
    const row = make("div", "msg-tools");
    const siblings = node.siblings || [];
    const at = siblings.indexOf(Number(node.dataset.id));
    if (siblings.length > 1 && at >= 0) {
      const nav = make("span", "branches");
      nav.setAttribute("role", "group");
      nav.setAttribute("aria-label", "Versions of this message");
      // (U+FE0E: drawn as text, never as a colour emoji)
      nav.append(arrow("◀\uFE0E", "Previous version", siblings[at - 1]),
                 make("span", "branch-count", `${at + 1}/${siblings.length}`),
                 arrow("▶\uFE0E", "Next version", siblings[at + 1]));
      row.append(nav);
    }
    if (node.classList.contains("user")) { // beside the bubble, under Copy (branches.css)
      const edit = make("button", "edit-msg", "Edit");
      edit.type = "button";
      edit.title = "Edit: sent as a new version of this message; this one stays";
      node.append(edit);
    }
    if (!row.childElementCount) return;
    const meta = node.querySelector(":scope > .meta");
    (meta || node.querySelector(":scope > .body")).after(row);
  }
  cw.hooks.identified = identified;

  ui.messages.addEventListener("click", (event) => {
    const node = event.target.closest(".msg");
    if (!node || state.busy) return;
    const target = event.target.closest("button.branch-arrow");
    if (target && target.dataset.target) switchBranch(node, Number(target.dataset.target));
    else if (event.target.closest("button.edit-msg")) openEditor(node, node.words ?? node.markdown);
  });

  // -- switching branches, and the branch after a turn ---------------------------------

  // The branch through `id` (a sibling of `node`'s message), in place: the
  // bubbles above stay, those from `node` down are the other branch's, and the
  // message switched to stays where it was on the screen.
  async function switchBranch(node, id) {
    if (state.busy || !state.cid) return;
    const cid = state.cid;
    let data;
    try {
      data = await cw.getJSON(cw.branchPath(cid, { at: id }));
    } catch (error) {
      cw.showNotice("Could not switch to that branch: " + error.message);
      return;
    }
    if (state.cid !== cid || state.busy) return;
    const from = data.messages.findIndex((message) => message.id === id);
    if (from < 0 || !node.isConnected) {
      await cw.openConversation(cid, false, { leaf: data.leaf });
      return;
    }
    const top = node.getBoundingClientRect().top;
    cw.showNotice("");
    state.last = null;
    cw.showMessages(data.messages.slice(from), node);
    const moved = ui.messages.querySelector(`.msg[data-id="${Number(id)}"]`);
    if (moved) window.scrollBy(0, moved.getBoundingClientRect().top - top);
    cw.setLeaf(data.leaf);
    if (data.elsewhere) cw.showNotice(cw.ELSEWHERE);
    if (data.live) await cw.followLive(cid);
    else cw.setBusy(false);
  }

  // After a turn (the tab's leaf is set by its end): the branch as saved gives
  // the bubbles their ids and siblings; their text stays as it streamed.
  // Matched exchange by exchange (a question and what answered it), as a reply
  // that called tools is one bubble here and several messages there (its first
  // is the one /retry makes siblings of). Skipped if another turn has begun:
  // its end does it for all.
  cw.hooks.settled = async (leaf) => {
    if (!leaf || !state.cid) return;
    const cid = state.cid;
    let data;
    try {
      data = await cw.getJSON(cw.branchPath(cid, { leaf }));
    } catch (error) {
      return; // the bubbles stay as they are; a reload shows the branch
    }
    if (state.cid !== cid || state.leaf !== leaf || state.busy) return;
    const shown = exchanges([...ui.messages.querySelectorAll(".msg")], (node) => node.classList.contains("user"));
    const saved = exchanges(data.messages, (message) => message.role === "user");
    // Nothing is taken off the page: a question stopped before any reply is
    // not on the saved branch (it is a dead end), and stays shown, unnumbered,
    // for Retry to ask again.
    shown.forEach((group, i) => group.forEach((node, j) => {
      const message = saved[i] && saved[i][j];
      if (message && message.role === (node.classList.contains("user") ? "user" : "assistant")) {
        cw.identify(node, message);
      }
    }));
  };

  function exchanges(items, isQuestion) {
    const groups = [];
    for (const item of items) {
      if (isQuestion(item) || !groups.length) groups.push([]);
      groups[groups.length - 1].push(item);
    }
    return groups;
  }

  // -- the edit box: in place of the message, until it is sent or cancelled ----------

  // `again`: the words of an edit not sent (the page is still busy with it).
  function openEditor(node, text, again) {
    if ((state.busy && !again) || node.querySelector(".editor")) return;
    const body = node.querySelector(":scope > .body");
    const lines = [...body.querySelectorAll(".chip")].map((chip) => chip.textContent);
    const form = make("form", "editor");
    form.setAttribute("aria-label", "Edit your message");
    if (lines.length) {
      const chips = make("div", "chips");
      for (const line of lines) chips.append(make("span", "chip", line));
      chips.append(make("span", "kept", "kept"));
      form.append(chips);
    }
    const area = make("textarea");
    area.value = text;
    area.setAttribute("aria-label", "The message's new text");
    const row = make("div", "editor-row");
    const hint = make("span", "editor-hint", "Sent as a new version; this one stays (◀ ▶).");
    const cancel = make("button", "ghost", "Cancel");
    cancel.type = "button";
    const send = make("button", "send", "Send");
    send.type = "submit";
    row.append(hint, cancel, send);
    form.append(area, row);
    node.classList.add("editing");
    body.hidden = true;
    body.after(form);
    const fit = () => {
      area.style.height = "auto";
      area.style.height = Math.min(area.scrollHeight + 2, 320) + "px";
    };
    area.addEventListener("input", fit);
    // Sent while a reply streams: the edit waits, open, and is sent with the
    // words it has when the reply ends (as the message box does).
    const waiting = { send: () => { if (form.isConnected) form.requestSubmit(); } };
    const close = () => {
      if (state.queued === waiting) cw.callOff();
      form.remove();
      body.hidden = false;
      node.classList.remove("editing");
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!area.value.trim() && !lines.length) return;
      if (state.busy) {
        cw.sendAfter(waiting);
        return;
      }
      const edited = area.value;
      close();
      cw.turn("edit", { node, message: Number(node.dataset.id), text: edited, lines });
    });
    cancel.addEventListener("click", close);
    area.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      } else if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        close();
      }
    });
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);
    fit();
  }
  // An edit the server did not take: its branch is back, and so are the words.
  cw.hooks.editNotSent = (node, text) => openEditor(node, text, true);

  // -- fork: a new conversation, a copy of the branch shown -------------------------------

  const fork = make("button", "ghost small fork");
  fork.type = "button";
  const icon = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  for (const [name, value] of [["viewBox", "0 0 20 20"], ["width", "15"], ["height", "15"], ["aria-hidden", "true"]]) {
    icon.setAttribute(name, value);
  }
  const line = document.createElementNS("http://www.w3.org/2000/svg", "path");
  line.setAttribute("d", "M6 3v6a4 4 0 0 0 4 4h4M6 3v14M14 10l3 3-3 3");
  for (const [name, value] of [["fill", "none"], ["stroke", "currentColor"], ["stroke-width", "1.6"],
                               ["stroke-linecap", "round"], ["stroke-linejoin", "round"]]) {
    line.setAttribute(name, value);
  }
  icon.append(line);
  fork.append(icon, make("span", "word", "Fork"));
  fork.setAttribute("aria-label", "Fork");
  fork.title = "Fork: a new conversation that starts as a copy of this branch";
  const tools = document.querySelector(".conv-tools");
  if (tools) tools.prepend(fork);
  else ui.title.after(fork);

  fork.addEventListener("click", async () => {
    const cid = state.cid;
    if (!cid) return;
    if (state.busy) {
      cw.showNotice("A reply is streaming here; fork once it has ended (or stop it).");
      return;
    }
    let response;
    let data;
    try {
      response = await cw.call(`/api/conversations/${cid}/fork`, {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ leaf: state.leaf }),
      });
      data = await response.json().catch(() => ({ error: response.statusText }));
    } catch (error) {
      cw.showNotice("Not forked: chinwag serve is not reachable.");
      return;
    }
    if (!response.ok) {
      cw.showNotice("Not forked: " + (cw.stale(response) ? cw.STALE_PAGE : data.error));
      return;
    }
    await cw.openConversation(data.id);
    cw.loadList();
    if (state.cid === data.id) cw.showNotice(`Forked: a copy of that branch (conversation ${cid} is unchanged).`);
  });
})();
