// chinwag serve: MCP prompts and resources, on top of the page's core scripts (reached only through
// window.chinwag): what the terminal's /prompts, /SERVER_PROMPT, /resources and
// /attach mcp:SERVER:URI do. The ⧉ button (drawn as two squares) beside the attach button opens a panel
// listing the conversation's servers' prompts and resources (GET /api/mcp). A
// prompt opens a small form, one field per argument (required ones marked); Run
// sends its messages as your next message (composer.js's turn "prompt"), and a refusal
// (a required argument missing) is the one line the server gives; as a field is typed
// in, the values the server offers for it are its suggestions. A resource is
// read and held like an uploaded file, sent with the next message. Everything a
// server says is sanitized by the server and set here as text only.
"use strict";

(() => {
  const cw = window.chinwag;
  const { ui, state, make, call, getJSON, showNotice } = cw;

  // Drawn, not a character: many Linux installs have no font with ⧉ and would show a box.
  const open = make("button", "ghost mcp-open");
  const icon = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  icon.setAttribute("viewBox", "0 0 20 20");
  icon.setAttribute("width", "18");
  icon.setAttribute("height", "18");
  icon.setAttribute("aria-hidden", "true");
  for (const d of ["M4 7h9v9H4z", "M7 4h9v9"]) {
    const line = document.createElementNS("http://www.w3.org/2000/svg", "path");
    line.setAttribute("d", d);
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", "currentColor");
    line.setAttribute("stroke-width", "1.6");
    line.setAttribute("stroke-linejoin", "round");
    icon.append(line);
  }
  open.append(icon);
  open.type = "button";
  open.id = "mcp-open";
  open.title = "MCP prompts and resources";
  open.setAttribute("aria-label", "MCP prompts and resources");
  open.setAttribute("aria-controls", "mcp-panel");
  open.hidden = true;
  ui.attach.after(open);

  const panel = make("div", "mcp-panel");
  panel.id = "mcp-panel";
  panel.hidden = true;
  ui.composer.before(panel);

  function conversation() {
    return state.cid ? "&conversation=" + state.cid : "";
  }

  async function load() {
    panel.replaceChildren(make("p", "mcp-note", "Asking the MCP servers…"));
    let data;
    try {
      data = await getJSON("/api/mcp?wait=1" + conversation());
    } catch (error) {
      panel.replaceChildren(make("p", "mcp-note", "Could not list them: " + error.message));
      return;
    }
    if (!panel.hidden) render(data);
  }

  function heading(text) {
    return make("h3", "mcp-head", text);
  }

  function render(data) {
    const parts = [heading("Prompts")];
    if (!data.prompts.length) parts.push(make("p", "mcp-note", "No prompts offered by the servers up now."));
    for (const prompt of data.prompts) {
      const item = make("button", "mcp-prompt");
      item.type = "button";
      item.dataset.command = prompt.command;
      item.append(make("span", "mcp-name", prompt.command));
      if (prompt.description) item.append(make("span", "mcp-about", prompt.description));
      item.addEventListener("click", () => panel.replaceChildren(form(prompt)));
      parts.push(item);
    }
    parts.push(heading("Resources"));
    if (!data.resources.length) parts.push(make("p", "mcp-note", "No resources offered by the servers up now."));
    for (const resource of data.resources) parts.push(resourceRow(resource));
    for (const server of data.servers) {
      if (server.state !== "up") {
        parts.push(make("p", "mcp-note", "MCP server " + server.name + ": " + server.state + (server.detail ? " (" + server.detail + ")" : "")));
      }
    }
    panel.replaceChildren(...parts);
  }

  // One field per argument, in the server's order; a required one is marked (and
  // left to the server to refuse when blank: its one line says which).
  function form(prompt) {
    const node = make("form", "mcp-form");
    node.noValidate = true;
    node.dataset.command = prompt.command;
    node.append(make("p", "mcp-name", prompt.command));
    if (prompt.description) node.append(make("p", "mcp-about", prompt.description));
    for (const arg of prompt.arguments) {
      const label = make("label", "mcp-arg" + (arg.required ? " required" : ""));
      label.append(make("span", "mcp-arg-name", arg.label + (arg.required ? " *" : "")));
      const input = make("input");
      input.name = arg.name;
      input.placeholder = arg.description || (arg.required ? "required" : "optional");
      if (arg.required) input.setAttribute("aria-required", "true");
      label.append(input, suggestions(prompt, node, input));
      node.append(label);
    }
    const row = make("div", "mcp-row");
    const run = make("button", "send", "Run");
    run.type = "submit";
    const back = make("button", "ghost", "Back");
    back.type = "button";
    back.addEventListener("click", load);
    row.append(run, back);
    node.append(row);
    node.addEventListener("submit", (event) => {
      event.preventDefault();
      const values = {};
      for (const input of node.querySelectorAll("input")) values[input.name] = input.value;
      close();
      cw.turn("prompt", null, { server: prompt.server, name: prompt.name, arguments: values });
    });
    setTimeout(() => { const first = node.querySelector("input"); if (first) first.focus(); }, 0);
    return node;
  }

  // The values the server offers for a field as it is typed (its completion/complete,
  // as Tab in the terminal), the other fields' values given, as the field's list of
  // suggestions. A server that offers none, or fails, leaves the list empty.
  let lists = 0;
  function suggestions(prompt, node, input) {
    const list = make("datalist");
    list.id = "mcp-values-" + (lists += 1);
    input.setAttribute("list", list.id);
    input.autocomplete = "off";
    let timer = 0;
    let latest = 0;
    async function ask() {
      const asked = (latest += 1);
      const given = {};
      for (const other of node.querySelectorAll("input")) {
        if (other !== input && other.value) given[other.name] = other.value;
      }
      let values = [];
      try {
        const response = await call("/api/mcp/complete", {
          method: "POST", headers: { "content-type": "application/json" },
          body: JSON.stringify({ server: prompt.server, prompt: prompt.name, argument: input.name,
                                 value: input.value, given, conversation: state.cid }),
        });
        if (response.ok) values = (await response.json()).values || [];
      } catch (error) {
        values = [];
      }
      if (asked !== latest) return; // a later keystroke's answer is on its way
      list.replaceChildren(...values.map((value) => {
        const option = make("option");
        option.value = value;
        return option;
      }));
    }
    const soon = () => { clearTimeout(timer); timer = setTimeout(ask, 120); };
    input.addEventListener("input", soon);
    input.addEventListener("focus", soon);
    return list;
  }

  // A resource, or a template whose {parameters} go in its URI, attached like a file.
  function resourceRow(resource) {
    const row = make("div", "mcp-resource");
    row.dataset.spec = resource.spec;
    const what = [resource.name, resource.mime_type].filter(Boolean).join(" · ");
    let field = null;
    if (resource.template) {
      field = make("input", "mcp-uri");
      field.value = resource.label;
      field.setAttribute("aria-label", "URI of " + resource.label);
      row.append(field);
    } else {
      row.append(make("span", "mcp-name", resource.label));
    }
    if (what) row.append(make("span", "mcp-about", what + (resource.template ? " · template" : "")));
    const attach = make("button", "ghost", "Attach");
    attach.type = "button";
    attach.addEventListener("click", () => attachResource(field ? field.value : resource.spec));
    row.append(attach);
    return row;
  }

  async function attachResource(spec) {
    close();
    state.uploading += 1;
    const item = { id: null, line: "📎 " + spec + " · reading…" };
    cw.setPending([...state.pending, item]);
    try {
      const response = await call("/api/mcp/attach", {
        method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ spec, model: ui.model.value || null, conversation: state.cid }),
      });
      const data = await response.json().catch(() => ({ error: response.statusText }));
      if (response.ok) {
        item.id = data.id;
        item.line = data.line;
      } else {
        item.line = "📎 " + spec + ": " + (data.error || "refused");
      }
    } catch (error) {
      item.line = "📎 " + spec + ": the server could not be reached";
    } finally {
      state.uploading -= 1;
    }
    cw.setPending([...state.pending]);
  }

  function close() {
    panel.hidden = true;
    open.setAttribute("aria-expanded", "false");
  }

  open.addEventListener("click", () => {
    if (!panel.hidden) return close();
    panel.hidden = false;
    open.setAttribute("aria-expanded", "true");
    showNotice("");
    load();
  });
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      close();
      ui.input.focus();
    }
  });

  // Shown when MCP servers are configured (they start now, in the background).
  getJSON("/api/mcp").then((data) => { open.hidden = !data.configured; }, () => {});
})();
