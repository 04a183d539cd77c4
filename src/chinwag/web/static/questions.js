// chinwag serve: what a reply asks the user, in the approval box: a tool
// call's approval and an MCP server's question (ReplyView's ask and elicit).
"use strict";

(() => {
  const cw = window.chinwag;
  const { state, make, showNotice, nearBottom, keepBottom, call, ReplyView } = cw;

  // A tool call that needs approval: the whole call (every argument in full, each
  // in a box that scrolls, with its length; controls made visible by the server),
  // why it asks, and Allow once / Always / Deny.
  ReplyView.prototype.ask = function (op) {
    for (const old of this.node.querySelectorAll(".approval")) old.remove();
    const box = make("div", "approval");
    box.dataset.id = op.id;
    box.setAttribute("role", "group");
    const question = op.question;
    box.setAttribute("aria-label", question.heading);
    box.append(make("div", "call", question.heading));
    for (const arg of question.args) {
      const value = make("pre", "arg-value", arg.text);
      value.tabIndex = 0; // scrollable by keyboard too
      box.append(make("div", "arg-name", arg.name + " · " + arg.about), value);
    }
    if (!question.args.length) box.append(make("div", "arg-name", "(no arguments)"));
    const row = make("div", "row");
    const reason = make("input");
    reason.type = "text";
    reason.placeholder = "Reason for denying (optional)";
    reason.setAttribute("aria-label", "Reason for denying");
    const buttons = [["yes", "Allow once", "send"], ["always", "Always for " + op.tool, "ghost"], ["no", "Deny", "stop"]];
    for (const [answer, label, style] of buttons) {
      const button = make("button", style, label);
      button.type = "button";
      button.dataset.answer = answer;
      button.addEventListener("click", async () => {
        for (const b of row.querySelectorAll("button")) b.disabled = true;
        const cid = state.cid;
        try {
          const response = await call(`/api/conversations/${cid}/approve`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ id: op.id, answer, reason: answer === "no" ? reason.value || null : null }),
          });
          if (!response.ok) showNotice("That question was answered already, or the reply has ended.");
        } catch (error) {
          showNotice("The connection to chinwag was lost.");
        }
        box.remove();
      });
      row.append(button);
    }
    row.append(reason);
    box.append(row);
    const near = nearBottom();
    this.live.before(box);
    keepBottom(near);
  };

  // An MCP server's question (elicitation), in the approval box: its message, then each
  // field as an input of its kind (the default filled in), Accept / Decline / Cancel.
  // In URL mode: the URL and its host in full; "Open" opens it, nothing opens unasked.
  // Every text is the server's, made visible there and put in as text.
  ReplyView.prototype.elicit = function (op) {
    for (const old of this.node.querySelectorAll(".approval")) old.remove();
    const question = op.question;
    const box = make("div", "approval elicitation");
    box.dataset.id = op.id;
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", question.heading);
    box.append(make("div", "call", question.heading), make("pre", "arg-value", question.message));
    const inputs = [];
    if (question.url !== undefined) {
      box.append(make("div", "arg-name", "URL"), make("pre", "arg-value url", question.url),
                 make("div", "arg-name", "host"), make("pre", "arg-value host", question.host || "(none)"));
    }
    for (const field of question.fields || []) {
      const label = make("label", "arg-name", field.label + (field.about ? " · " + field.about : "")
                         + (field.required ? " (required)" : ""));
      let input;
      if (field.kind === "boolean") {
        input = make("select");
        for (const [value, text] of [["", "—"], ["y", "yes"], ["n", "no"]]) {
          const option = make("option", null, text);
          option.value = value;
          input.append(option);
        }
      } else if (field.kind === "enum" || field.kind === "multi") {
        input = make("select");
        input.multiple = field.kind === "multi";
        if (!input.multiple) {
          const none = make("option", null, "—");
          none.value = "";
          input.append(none);
        }
        for (const [number, text] of field.choices) {
          const option = make("option", null, text);
          option.value = number;
          input.append(option);
        }
      } else {
        input = make("input");
        input.type = field.kind === "string" ? "text" : "number";
        if (field.kind === "number") input.step = "any";
      }
      const defaults = field.default ? field.default.split(" ") : [];
      if (input.multiple) {
        for (const option of input.options) option.selected = defaults.includes(option.value);
      } else {
        input.value = field.default;
      }
      input.name = field.name;
      input.setAttribute("aria-label", field.label);
      label.append(input);
      box.append(label);
      inputs.push([field.name, input]);
    }
    const row = make("div", "row");
    const accept = question.url !== undefined ? "Open" : "Accept";
    for (const [action, text, style] of [["accept", accept, "send"], ["decline", "Decline", "ghost"],
                                          ["cancel", "Cancel", "stop"]]) {
      const button = make("button", style, text);
      button.type = "button";
      button.dataset.action = action;
      button.addEventListener("click", async () => {
        const values = {};
        for (const [name, input] of inputs) {
          values[name] = input.multiple ? [...input.selectedOptions].map((o) => o.value).join(" ") : input.value;
        }
        if (action === "accept" && question.open) window.open(question.open, "_blank", "noopener");
        for (const b of row.querySelectorAll("button")) b.disabled = true;
        try {
          const response = await call(`/api/conversations/${state.cid}/elicit`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ id: op.id, action, values }),
          });
          if (response.status === 400) {
            showNotice((await response.json()).error);
            for (const b of row.querySelectorAll("button")) b.disabled = false;
            return;
          }
          if (!response.ok) showNotice("That question was answered already, or the reply has ended.");
        } catch (error) {
          showNotice("The connection to chinwag was lost.");
        }
        box.remove();
      });
      row.append(button);
    }
    box.append(row);
    const near = nearBottom();
    this.live.before(box);
    keepBottom(near);
  };
})();
