// chinwag serve: the page's shared parts, loaded first: its elements (ui), its
// state, the hooks the later scripts fill in, and small helpers. It makes
// window.chinwag, through which the other scripts reach them and each other.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  // Set by branches.js: identified(node), a bubble given its message; settled(leaf),
  // a turn ended (the branch now ends at `leaf`); editNotSent(node, text).
  const hooks = { identified() {}, async settled() {}, editNotSent() {}, opened() {} };
  const ui = {
    app: $("app"), list: $("list"), search: $("search"), messages: $("messages"), empty: $("empty"),
    title: $("title"), model: $("model"), input: $("input"), composer: $("composer"), send: $("send"),
    stop: $("stop"), retry: $("retry"), cont: $("continue"), notice: $("notice"), sidebar: $("sidebar"),
    scrim: $("scrim"), toggle: $("toggle-side"), newChat: $("new-chat"), attach: $("attach"), file: $("file"),
    chips: $("chips"),
  };
  // leaf: the last message of the branch this tab shows (null: a new chat, or
  // the conversation's current one); every turn sent from here carries it.
  // queued: Enter was pressed while a reply streamed; the box is sent when it ends
  // (true), or an edit box is, through its { send() } (composer.js's sendAfter).
  const state = { cid: null, leaf: null, busy: false, last: null, loadToken: 0, controller: null, pending: [],
                  uploading: 0, queued: false };

  // -- small helpers ---------------------------------------------------------------

  // Text for display with its bidi controls shown as <U+202E>, as the server shows
  // them, so a title cannot reorder what follows it. What is sent back stays as it came.
  const BIDI = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/g;
  function shown(text) {
    return String(text).replace(BIDI, (c) => "<U+" + c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0") + ">");
  }

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = shown(text);
    return node;
  }

  function fragment(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    return template.content;
  }

  function showNotice(text) {
    ui.notice.textContent = shown(text || "");
    ui.notice.hidden = !text;
  }

  function nearBottom() {
    const el = document.scrollingElement || document.documentElement;
    return el.scrollHeight - el.scrollTop - el.clientHeight < 120;
  }

  function keepBottom(wasNear) {
    if (wasNear) window.scrollTo(0, document.documentElement.scrollHeight);
  }

  function when(seconds) {
    const date = new Date(seconds * 1000);
    const today = new Date();
    if (date.toDateString() === today.toDateString()) {
      return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    }
    return date.toLocaleDateString([], { month: "short", day: "numeric" });
  }

  // Wording shared with the terminal and the history (chinwag/present.py, served as /static/words.js).
  const WORDS = window.CHINWAG_WORDS;

  // What the page's other scripts use; nothing else reaches in.
  window.chinwag = { ui, state, hooks, make, shown, fragment, showNotice, nearBottom, keepBottom, when, WORDS };
})();
