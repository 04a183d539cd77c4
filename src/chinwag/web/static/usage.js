// chinwag serve: what replies cost, on top of the page's core scripts (reached only through
// window.chinwag). Two features: each saved reply's cost, dim, under it, and
// the conversation's total (every branch) beside its title; and the Usage
// view (#usage), spend and tokens by day, whose chart and tables the server
// draws (GET /api/usage: inline SVG and HTML, escaped there), the same
// figures as `chinwag usage`. Nothing here builds markup from data.
"use strict";

(() => {
  const cw = window.chinwag;
  const { ui, state, make } = cw;

  // -- a reply's cost, and the conversation's --------------------------------------
  // A free (local) reply and one whose price is unknown show none, as the
  // terminal's stats line does. A reply that streamed here already shows its
  // turn's cost in its stats line (it has a "$"): it gets no second one.

  function dollars(cost) {
    return cost >= 0.00005 ? "$" + cost.toFixed(4) : "<$0.0001";
  }

  const identified = cw.hooks.identified;
  cw.hooks.identified = (node, message) => {
    identified(node, message);
    if (!message || message.role !== "assistant" || !node.classList.contains("assistant")) return;
    const meta = node.querySelector(".meta");
    if (!meta || meta.querySelector(".cost") || meta.textContent.includes("$")) return;
    if (typeof message.cost === "number" && message.cost > 0) {
      meta.append(make("span", "cost", (meta.textContent ? " · " : "") + dollars(message.cost)));
    }
  };

  const total = make("span", "cost-total");
  total.id = "cost-total";
  total.hidden = true;
  ui.title.after(total);

  function showTotal(cost) {
    const known = cost && cost.total > 0;
    total.hidden = !known;
    total.textContent = known ? dollars(cost.total) + (cost.unpriced ? " + unpriced" : "") : "";
    total.title = "What this conversation's replies cost, every branch"
      + (cost && cost.unpriced ? `; ${cost.unpriced} with no known price` : "");
  }

  cw.hooks.opened = (data) => showTotal(data.cost);
  document.addEventListener("chinwag:conversation", (event) => {
    if (!event.detail) showTotal(null); // a new chat
  });

  // After a turn, the conversation's total as saved (the reply's own cost is in its stats line).
  const settled = cw.hooks.settled;
  cw.hooks.settled = async (leaf) => {
    await settled(leaf);
    const cid = state.cid;
    if (!leaf || !cid) return;
    try {
      const data = await cw.getJSON(cw.branchPath(cid, { leaf }));
      if (state.cid === cid) showTotal(data.cost);
    } catch (error) {
      // the total stays as it was; a reload shows it
    }
  };

  // -- the Usage view ---------------------------------------------------------------
  // #usage, or #usage?days=N&by=KEY&utc=1: what the address holds, so a reload
  // or a bookmark shows the same view.

  const view = make("section", "usage-view");
  view.id = "usage-view";
  view.hidden = true;
  view.setAttribute("aria-label", "Usage");
  const controls = make("form", "usage-controls");
  controls.id = "usage-controls";
  const days = select("usage-days", "Days", [["7", "7 days"], ["30", "30 days"], ["90", "90 days"], ["365", "365 days"]]);
  const by = select("usage-by", "Split by", [["", "all together"], ["model", "by model"], ["provider", "by provider"],
    ["conversation", "by conversation"]]);
  const utcBox = make("input");
  utcBox.type = "checkbox";
  utcBox.id = "usage-utc";
  const utcLabel = make("label", "usage-utc", " UTC days");
  utcLabel.prepend(utcBox);
  controls.append(days, by, utcLabel);
  const body = make("div", "usage-body");
  body.id = "usage-body";
  view.append(controls, body);
  ui.messages.after(view);

  function select(id, label, options) {
    const node = make("select");
    node.id = id;
    node.setAttribute("aria-label", label);
    for (const [value, text] of options) {
      const option = make("option", "", text);
      option.value = value;
      node.append(option);
    }
    return node;
  }

  function wanted() {
    const match = /^#usage(?:\?(.*))?$/.exec(location.hash);
    return match ? new URLSearchParams(match[1] || "") : null;
  }

  let titleBefore = null;
  let loading = 0;

  async function show(params) {
    if (view.hidden) titleBefore = [ui.title.textContent, document.title];
    ui.app.classList.add("usage-open");
    view.hidden = false;
    total.hidden = true;
    ui.title.textContent = "Usage";
    document.title = "Usage · chinwag";
    days.value = ["7", "30", "90", "365"].includes(params.get("days")) ? params.get("days") : "30";
    by.value = params.get("by") || "";
    utcBox.checked = params.get("utc") === "1";
    const query = new URLSearchParams({ days: days.value });
    if (by.value) query.set("by", by.value);
    if (utcBox.checked) query.set("utc", "1");
    const mine = ++loading;
    view.setAttribute("aria-busy", "true");
    try {
      const data = await cw.getJSON("/api/usage?" + query.toString());
      if (mine !== loading) return;
      body.innerHTML = data.html; // drawn and escaped by the server (web/usage.py)
      cw.showNotice("");
    } catch (error) {
      if (mine === loading) cw.showNotice("Could not read the usage: " + error.message);
    } finally {
      if (mine === loading) view.removeAttribute("aria-busy");
    }
  }

  function hide() {
    if (view.hidden) return;
    view.hidden = true;
    ui.app.classList.remove("usage-open");
    if (titleBefore && state.cid) [ui.title.textContent, document.title] = titleBefore;
    titleBefore = null;
  }

  function fromControls() {
    const params = new URLSearchParams({ days: days.value });
    if (by.value) params.set("by", by.value);
    if (utcBox.checked) params.set("utc", "1");
    location.hash = "usage?" + params.toString();
  }

  controls.addEventListener("change", fromControls);
  controls.addEventListener("submit", (event) => event.preventDefault());

  function route() {
    const params = wanted();
    if (params) show(params);
    else hide();
  }

  window.addEventListener("hashchange", route);
  document.addEventListener("chinwag:conversation", () => {
    if (!wanted()) hide(); // a conversation opened, or a new chat
  });
  ui.newChat.addEventListener("click", hide);
  route();
})();
