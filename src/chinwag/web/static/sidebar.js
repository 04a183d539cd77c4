// chinwag serve: the saved conversations in the sidebar, their search, and
// the sidebar opened and closed on a narrow screen.
"use strict";

(() => {
  const cw = window.chinwag;
  const { ui, state, make, showNotice, when, getJSON } = cw;

  // -- the conversation list and search ------------------------------------------------

  async function loadList() {
    const query = ui.search.value.trim();
    const token = ++state.loadToken;
    let data;
    try {
      data = await getJSON("/api/conversations" + (query ? "?q=" + encodeURIComponent(query) : ""));
    } catch (error) {
      showNotice("Could not read the history: " + error.message);
      return;
    }
    if (token !== state.loadToken) return;
    ui.list.replaceChildren();
    if (!data.conversations.length) {
      ui.list.append(make("p", "none", query ? "Nothing found." : "No saved conversations yet."));
    }
    for (const item of data.conversations) {
      const link = make("a", "item" + (item.id === state.cid ? " current" : ""));
      link.href = "#c=" + item.id;
      link.dataset.id = item.id;
      const head = make("span", "item-head");
      head.append(make("span", "item-title", item.title), make("span", "item-when", when(item.updated_at)));
      link.append(head);
      if (item.live) liveMarker(link);
      if (item.snippet) {
        const snippet = make("span", "item-snippet");
        snippet.innerHTML = item.snippet; // escaped by the server, <mark> around matches
        link.append(snippet);
      } else if (item.model) {
        link.append(make("span", "item-model", item.model));
      }
      ui.list.append(link);
    }
    ui.list.dispatchEvent(new CustomEvent("chinwag:listed", { detail: data.conversations }));
  }

  // A conversation whose reply streams now, seen from the sidebar.
  function liveMarker(link) {
    link.classList.add("live");
    const dot = make("span", "live-dot");
    dot.title = "A reply is streaming";
    dot.setAttribute("role", "img");
    dot.setAttribute("aria-label", "streaming");
    link.querySelector(".item-head").prepend(dot);
  }

  function markCurrent() {
    for (const link of ui.list.querySelectorAll(".item")) {
      link.classList.toggle("current", Number(link.dataset.id) === state.cid);
    }
  }

  function openSidebar() {
    ui.app.classList.add("side-open");
    ui.scrim.hidden = false;
  }

  function closeSidebar() {
    ui.app.classList.remove("side-open");
    ui.scrim.hidden = true;
  }

  ui.toggle.addEventListener("click", () => (ui.app.classList.contains("side-open") ? closeSidebar() : openSidebar()));
  ui.scrim.addEventListener("click", closeSidebar);
  ui.list.addEventListener("click", (event) => {
    if (event.target.closest(".item")) closeSidebar();
  });

  let searchTimer = 0;
  ui.search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(loadList, 120);
  });

  Object.assign(cw, { loadList, markCurrent, closeSidebar });
})();
