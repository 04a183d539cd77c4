// chinwag serve: what makes the page a daily driver, on top of the page's core scripts (which
// it reaches only through window.chinwag). Each section is one feature:
// presence (replies outlive the tab that asked; the sidebar stays current),
// keys, "jump to the latest", the theme, icons without an emoji font,
// copying a message, and renaming and deleting a conversation with undo.
"use strict";

(() => {
  const cw = window.chinwag;
  const { ui, state, make } = cw;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function typing(target) {
    return !!target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
  }

  // -- presence: held open while any tab of the page is open ------------------------
  // The server keeps a reply streaming while a page is open, followed or not,
  // and says on the presence stream when the conversation list changed (a new
  // chat, a reply starting or ending). One tab holds the stream for all tabs
  // of this origin (a Web Lock elects it; the next takes over when it closes),
  // so many tabs cost one connection, not one each (a browser allows six per
  // host). Its news reaches the other tabs on a BroadcastChannel. A page from
  // an earlier start of the server is refused (401 or 403), and says so.

  let listTimer = 0;
  function listChanged() {
    clearTimeout(listTimer);
    listTimer = setTimeout(cw.loadList, 50);
  }

  function heard(event) {
    if (event.t === "changed") listChanged();
  }

  const tabs = "BroadcastChannel" in window ? new BroadcastChannel("chinwag-presence") : null;
  if (tabs) tabs.addEventListener("message", (message) => heard(message.data));

  function tell(event) {
    heard(event);
    if (tabs) tabs.postMessage(event);
  }

  async function holdPresence() {
    let delay = 500;
    for (;;) {
      try {
        const response = await cw.call("/api/presence", { headers: { accept: "text/event-stream" } });
        if (cw.stale(response)) {
          // This tab is stale, not necessarily the others (one may have the new
          // address): it says so itself and lets the next tab take the stream.
          cw.showNotice(cw.STALE_PAGE);
          return;
        }
        if (response.ok) {
          delay = 500;
          await cw.readEvents(response, (events) => {
            if (events.some((e) => e.t === "changed")) tell({ t: "changed" });
          });
        }
      } catch (error) {
        // the server is gone for now: ask again, less and less often
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 4000);
    }
  }

  // -- keys ------------------------------------------------------------------------------

  const NEW_CHAT_KEYS = "Ctrl+Shift+O";
  ui.newChat.title = "New chat (" + NEW_CHAT_KEYS + ")";
  ui.search.placeholder = "Search history  ( / )";
  ui.stop.title = "Stop the reply (Esc)";

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.busy) {
      event.preventDefault();
      cw.stop();
    } else if ((event.ctrlKey || event.metaKey) && event.shiftKey && event.key.toLowerCase() === "o") {
      event.preventDefault();
      cw.newChat();
    } else if (event.key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey && !typing(event.target)) {
      event.preventDefault();
      ui.search.focus();
    }
  });

  // -- "jump to the latest", while a reply streams below the fold ----------------------

  const jump = make("button", "jump", "↓ Jump to the latest");
  jump.type = "button";
  jump.hidden = true;
  ui.notice.before(jump);
  jump.addEventListener("click", () => window.scrollTo(0, document.documentElement.scrollHeight));
  let jumpFrame = 0;
  function placeJump() {
    if (jumpFrame) return;
    jumpFrame = requestAnimationFrame(() => {
      jumpFrame = 0;
      jump.hidden = !(state.busy && !cw.nearBottom());
    });
  }
  window.addEventListener("scroll", placeJump, { passive: true });
  new MutationObserver(placeJump).observe(ui.messages, { childList: true, subtree: true });
  new MutationObserver(placeJump).observe(ui.stop, { attributes: true, attributeFilter: ["hidden"] });

  // -- the theme: the system's, or the one chosen here (remembered) ---------------------

  const THEME_KEY = "chinwag-theme";
  const root = document.documentElement;
  const themeButton = make("button", "new theme-toggle");
  themeButton.type = "button";
  ui.newChat.before(themeButton);

  function effectiveTheme() {
    return root.dataset.theme || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
  }

  function showTheme() {
    const other = effectiveTheme() === "dark" ? "light" : "dark";
    themeButton.textContent = other === "dark" ? "Dark" : "Light";
    themeButton.title = "Switch to the " + other + " theme";
    themeButton.setAttribute("aria-label", themeButton.title);
  }

  function setTheme(theme) {
    if (theme === "light" || theme === "dark") root.dataset.theme = theme;
    else delete root.dataset.theme;
    showTheme();
  }

  let saved = null;
  try {
    saved = localStorage.getItem(THEME_KEY);
  } catch (error) {
    // storage refused (a private window): the system's theme it is
  }
  setTheme(saved);
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", showTheme);
  themeButton.addEventListener("click", () => {
    const next = effectiveTheme() === "dark" ? "light" : "dark";
    try {
      localStorage.setItem(THEME_KEY, next);
    } catch (error) {
      // not remembered, still switched
    }
    setTheme(next);
  });

  // -- icons without an emoji font ---------------------------------------------------------
  // Attachment and tool lines start with an emoji; where no font has it (many
  // Linux installs), a word stands in rather than an empty box.

  const ICONS = { "📎": "[file]", "⚙": "[tool]" };

  function drawn(text) {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 32;
    const context = canvas.getContext("2d", { willReadFrequently: true });
    if (!context) return null;
    context.font = "24px " + getComputedStyle(document.body).fontFamily;
    context.textBaseline = "top";
    context.fillText(text, 2, 2);
    return context.getImageData(0, 0, 32, 32).data.join(",");
  }

  const missing = drawn("\u{10FFFD}"); // a private-use character: no font draws it
  const replace = Object.keys(ICONS).filter((icon) => missing !== null && drawn(icon) === missing);

  function plainIcons(scope) {
    const nodes = scope.matches && scope.matches(".chip, details.tool > summary") ? [scope]
      : [...scope.querySelectorAll(".chip, details.tool > summary")];
    for (const node of nodes) {
      const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
      for (let text = walker.nextNode(); text; text = walker.nextNode()) {
        for (const icon of replace) {
          if (text.data.includes(icon)) text.data = text.data.split(icon).join(ICONS[icon]);
        }
      }
    }
  }

  if (replace.length) {
    root.classList.add("no-emoji");
    const watch = new MutationObserver((records) => {
      for (const record of records) {
        for (const node of record.addedNodes) if (node.nodeType === 1) plainIcons(node);
      }
    });
    for (const scope of [ui.messages, ui.chips]) watch.observe(scope, { childList: true, subtree: true });
    plainIcons(document.body);
  }

  // -- copy a whole message, as the markdown the server keeps -------------------------

  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
    } catch (error) {
      const area = make("textarea");
      area.value = text;
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
  }

  ui.messages.addEventListener("click", async (event) => {
    const button = event.target.closest("button.copy-msg");
    if (!button) return;
    const message = button.closest(".msg");
    await copyText(message.markdown || message.querySelector(".body").innerText);
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = "Copy"; }, 1200);
  });

  // -- rename and delete (with a few seconds to undo) ---------------------------------

  const UNDO_SECONDS = 6;
  const deleting = new Map(); // id -> { timer, title }: gone from the list, not yet from the history
  const tools = make("span", "conv-tools");
  // An icon and a word; phones show the icon alone (daily.css).
  function toolButton(word, path) {
    const button = make("button", "ghost small");
    button.type = "button";
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 20 20");
    svg.setAttribute("width", "15");
    svg.setAttribute("height", "15");
    svg.setAttribute("aria-hidden", "true");
    const line = document.createElementNS("http://www.w3.org/2000/svg", "path");
    line.setAttribute("d", path);
    for (const [name, value] of [["fill", "none"], ["stroke", "currentColor"], ["stroke-width", "1.6"],
                                 ["stroke-linecap", "round"], ["stroke-linejoin", "round"]]) {
      line.setAttribute(name, value);
    }
    svg.append(line);
    button.append(svg, make("span", "word", word));
    button.setAttribute("aria-label", word);
    return button;
  }
  const renameButton = toolButton("Rename", "M4 16l1-4 8-8 3 3-8 8-4 1zM11 6l3 3");
  const deleteButton = toolButton("Delete", "M4 6h12M8 6V4h4v2M6 6l1 10h6l1-10");
  renameButton.title = "Rename this conversation";
  deleteButton.title = "Delete this conversation (you can undo for a few seconds)";
  tools.append(renameButton, deleteButton);
  ui.title.after(tools);
  const toast = make("div", "toast");
  toast.setAttribute("role", "status");
  toast.hidden = true;
  ui.notice.before(toast);

  function showTools() {
    tools.hidden = !state.cid;
  }
  document.addEventListener("chinwag:conversation", showTools);
  showTools();

  function hideDeleted() {
    for (const link of ui.list.querySelectorAll(".item")) {
      if (deleting.has(Number(link.dataset.id))) link.remove();
    }
    if (!ui.list.children.length) ui.list.append(make("p", "none", "No saved conversations yet."));
  }
  ui.list.addEventListener("chinwag:listed", hideDeleted);
  // On a phone the list is in a drawer: its button carries the dot for a reply streaming elsewhere.
  function markDrawer() {
    ui.toggle.classList.toggle("has-live", !!ui.list.querySelector(".item.live:not(.current)"));
  }
  ui.list.addEventListener("chinwag:listed", markDrawer);
  document.addEventListener("chinwag:conversation", () => setTimeout(markDrawer)); // once marked current

  async function deleteForReal(cid, keepalive) {
    const entry = deleting.get(cid);
    if (!entry) return;
    clearTimeout(entry.timer);
    deleting.delete(cid);
    if (!deleting.size) toast.hidden = true;
    try {
      const response = await cw.call(`/api/conversations/${cid}/delete`, { method: "POST", keepalive: !!keepalive });
      if (!response.ok && response.status !== 404) {
        const problem = await response.json().catch(() => ({ error: response.statusText }));
        cw.showNotice("Not deleted: " + (cw.stale(response) ? cw.STALE_PAGE : problem.error));
      }
    } catch (error) {
      cw.showNotice("Not deleted: chinwag serve is not reachable.");
    }
    cw.loadList();
  }

  function undo(cid) {
    const entry = deleting.get(cid);
    if (!entry) return;
    clearTimeout(entry.timer);
    deleting.delete(cid);
    toast.hidden = true;
    cw.loadList();
    location.hash = "#c=" + cid;
  }

  deleteButton.addEventListener("click", () => {
    const cid = state.cid;
    if (!cid) return;
    if (state.busy) {
      cw.showNotice("A reply is streaming here; stop it before deleting the conversation.");
      return;
    }
    const title = ui.title.textContent;
    deleting.set(cid, { title, timer: setTimeout(() => deleteForReal(cid), UNDO_SECONDS * 1000) });
    hideDeleted();
    cw.newChat();
    const undoButton = make("button", "ghost small", "Undo");
    undoButton.type = "button";
    undoButton.addEventListener("click", () => undo(cid));
    toast.replaceChildren(make("span", "", "Deleted “" + title + "”."), undoButton);
    toast.hidden = false;
  });

  // Leaving the page ends the undo window: what was deleted is deleted.
  window.addEventListener("pagehide", () => {
    for (const cid of [...deleting.keys()]) deleteForReal(cid, true);
  });

  renameButton.addEventListener("click", () => {
    const cid = state.cid;
    if (!cid || ui.title.hidden) return;
    const field = make("input", "rename");
    field.type = "text";
    field.value = ui.title.textContent;
    field.setAttribute("aria-label", "Conversation title");
    field.maxLength = 200;
    ui.title.hidden = true;
    tools.hidden = true;
    ui.title.before(field);
    field.focus();
    field.select();
    let done = false;
    const finish = async (save) => {
      if (done) return;
      done = true;
      const title = field.value.trim();
      field.remove();
      ui.title.hidden = false;
      showTools();
      if (!save || !title || title === ui.title.textContent) return;
      try {
        const response = await cw.call(`/api/conversations/${cid}/rename`, {
          method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ title }),
        });
        if (!response.ok) {
          const problem = await response.json().catch(() => ({ error: response.statusText }));
          cw.showNotice("Not renamed: " + (cw.stale(response) ? cw.STALE_PAGE : problem.error));
          return;
        }
        if (state.cid === cid) cw.setTitle(title);
        cw.loadList();
      } catch (error) {
        cw.showNotice("Not renamed: chinwag serve is not reachable.");
      }
    };
    field.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        finish(true);
      } else if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        finish(false);
      }
    });
    field.addEventListener("blur", () => finish(true));
  });

  if (navigator.locks) navigator.locks.request("chinwag-presence", holdPresence); // held while this tab lives
  else holdPresence(); // (not a secure context: each tab holds its own)
})();
