// chinwag serve: the bubbles and a reply as it streams: the event stream
// (readEvents, follow) and ReplyView, which applies the server's rendered
// operations to a bubble; Copy on a code block.
"use strict";

(() => {
  const cw = window.chinwag;
  const { ui, state, make, shown, fragment, showNotice, nearBottom, keepBottom, WORDS, loadList } = cw;
  // Defined by a script loaded after this one: looked up when called.
  const setLeaf = (...args) => cw.setLeaf(...args);
  const announce = (...args) => cw.announce(...args);
  const setTitle = (...args) => cw.setTitle(...args);

  // -- messages ----------------------------------------------------------------------

  function bubble(role, status) {
    ui.empty.hidden = true;
    const node = make("article", "msg " + role);
    node.dataset.status = status || "complete";
    const body = make("div", "body");
    node.append(body);
    if (role === "assistant") node.append(make("div", "meta"));
    node.markdown = ""; // the message as the server keeps it (markdown), for Copy
    const copy = make("button", "copy-msg", "Copy");
    copy.type = "button";
    copy.title = "Copy the whole message as markdown";
    node.append(copy);
    ui.messages.append(node);
    return node;
  }

  function userBubble(text, lines) {
    const node = bubble("user");
    const body = node.querySelector(".body");
    if (lines && lines.length) {
      const chips = make("div", "chips");
      for (const line of lines) chips.append(make("span", "chip", line));
      body.append(chips);
    }
    body.append(document.createTextNode(shown(text)));
    node.markdown = text;
    return node;
  }

  // A prompt's messages (an MCP server's words, sanitized by the server), sent as the
  // user's: the line naming the prompt, its attachments' lines, its text, all as text.
  function showAsked(node, op) {
    const body = node.querySelector(".body");
    const chips = body.querySelector(".chips") || make("div", "chips");
    for (const line of op.attachments) chips.append(make("span", "chip", line));
    body.replaceChildren(make("div", "prompt-line", op.line));
    if (chips.children.length) body.append(chips);
    body.append(document.createTextNode(shown(op.text)));
    node.markdown = op.text;
    if (ui.title.textContent === "New chat") setTitle(op.text.trim().split("\n")[0].slice(0, 80));
  }

  function setMeta(node, status, text) {
    node.dataset.status = status;
    const meta = node.querySelector(".meta");
    if (meta) {
      meta.textContent = shown(text || "");
      meta.className = "meta" + (status === "complete" ? "" : " " + status);
    }
  }

  function statusLine(status, error) {
    if (status === "stopped") return "stopped";
    if (status === "interrupted") return error ? WORDS.interruptedBecause + error : WORDS.replyInterrupted;
    if (status === "error") return error || "failed";
    if (status === "streaming") return "…";
    return "";
  }

  // Finished blocks go into groups of GROUP blocks, so a change to the live
  // block lays out one group's worth of siblings, not the whole reply: the
  // browser's work stays linear in the reply's length.
  const GROUP = 24;

  class ReplyView {
    constructor(node) {
      this.node = node;
      this.body = node.querySelector(".body");
      this.live = null;
      this.code = null;
      this.tail = null;
      this.group = null;
      this.count = 0;
    }

    place(html) {
      if (!this.group || this.count >= GROUP) {
        this.group = make("div", "blocks");
        this.live.before(this.group);
        this.count = 0;
      }
      this.group.append(fragment(html));
      this.count += 1;
      return this.group.lastElementChild;
    }

    apply(op) {
      switch (op.t) {
        case "snapshot":
          this.body.innerHTML = op.html;
          this.live = this.body.querySelector(":scope > .live");
          this.code = this.body.querySelector(":scope > .code.open");
          this.tail = this.code ? this.code.querySelector(".tail") : null;
          this.group = null;
          setMeta(this.node, "streaming", "…");
          if (op.notices && op.notices.length) showNotice(op.notices[op.notices.length - 1]);
          break;
        case "commit":
          this.place(op.html);
          break;
        case "live":
          this.live.innerHTML = op.html;
          break;
        case "code_open":
          this.code = this.place(op.html);
          this.tail = this.code.querySelector(".tail");
          break;
        case "code":
          this.tail.before(fragment(op.html));
          break;
        case "tail":
          this.tail.textContent = op.text;
          break;
        case "code_end":
          this.code.replaceWith(fragment(op.html));
          this.code = this.tail = null;
          break;
        case "notice":
          showNotice(op.text);
          this.retrying = op.retry ? op.text : null;
          break;
        case "approve":
          this.ask(op);
          break;
        case "asked":
          if (this.question) showAsked(this.question, op);
          break;
        case "elicit":
          this.elicit(op);
          break;
        case "approved":
          for (const box of this.node.querySelectorAll(".approval")) {
            if (Number(box.dataset.id) === op.id) box.remove();
          }
          break;
        case "end":
          setMeta(this.node, op.status, op.status === "complete" ? op.stats : statusLine(op.status, op.error));
          state.last = op.status;
          if (typeof op.markdown === "string") this.node.markdown = op.markdown;
          this.node.leaf = op.leaf; // the branch's last message now, as saved: the next turn continues it
          if (op.leaf) setLeaf(op.leaf);
          // "retrying in 1 s (attempt 3/3)" is over once the reply has ended, whichever way.
          if (this.retrying && ui.notice.textContent === this.retrying) showNotice("");
          this.retrying = null;
          break;
      }
    }
  }

  // Calls onEvents with the events of each read, in order.
  async function readEvents(response, onEvents) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      const events = [];
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const chunk = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        for (const line of chunk.split("\n")) {
          if (line.startsWith("data: ")) events.push(JSON.parse(line.slice(6)));
        }
      }
      if (events.length) onEvents(events);
    }
  }

  async function follow(response, view) {
    await readEvents(response, (events) => {
      const near = nearBottom();
      for (const op of events) {
        if (op.t !== "conversation") view.apply(op);
        else if (state.cid !== op.id) {
          state.cid = op.id;
          setLeaf(null);
          loadList(); // the new conversation is in the sidebar now, not after its reply
          announce();
        }
      }
      keepBottom(near);
    });
  }

  function lastAssistant() {
    const all = ui.messages.querySelectorAll(".msg.assistant");
    return all.length ? all[all.length - 1] : null;
  }

  async function copyCode(button) {
    const code = button.closest(".code").querySelector("code");
    const text = code ? code.innerText : "";
    try {
      await navigator.clipboard.writeText(text);
    } catch (error) {
      const range = document.createRange();
      range.selectNodeContents(code);
      const selection = getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      document.execCommand("copy");
      selection.removeAllRanges();
    }
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = "Copy"; }, 1200);
  }

  ui.messages.addEventListener("click", (event) => {
    const button = event.target.closest("button.copy");
    if (button) copyCode(button);
  });

  Object.assign(cw, { bubble, userBubble, setMeta, statusLine, ReplyView, readEvents, follow, lastAssistant });
})();
