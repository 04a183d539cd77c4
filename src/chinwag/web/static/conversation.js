// chinwag serve: the conversation shown: opening one, the branch this tab shows
// (and the address that says which), following a reply that streams in it, a
// new chat.
"use strict";

(() => {
  const cw = window.chinwag;
  const {
    ui, state, hooks, shown, showNotice, call, getJSON, stale, STALE_PAGE, LOST, ELSEWHERE, loadList,
    markCurrent, closeSidebar, bubble, setMeta, statusLine, ReplyView, follow, lastAssistant,
    setBusy, follows, letGo, pickModel
  } = cw;

  // -- opening a conversation --------------------------------------------------------

  function clearMessages() {
    for (const node of ui.messages.querySelectorAll(".msg")) node.remove();
    ui.empty.hidden = false;
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

  ui.newChat.addEventListener("click", newChat);

  window.addEventListener("hashchange", route);

  Object.assign(cw, { openConversation, setLeaf, branchPath, showMessages, identify, followLive, announce, setTitle,
    newChat, route });
})();
