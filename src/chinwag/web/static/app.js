// chinwag serve: the page. Plain JS, no framework, nothing from elsewhere.
// Replies arrive as server-rendered HTML operations over an event stream
// (fetch + reader): finished blocks are appended once, only the live block
// is replaced. Model output is escaped on the server; user text goes in as
// textContent; nothing here evaluates strings.
// Its parts are files of their own, loaded before this one by index.html, in
// this order: page.js, server.js, sidebar.js, reply.js, questions.js,
// composer.js, models.js, conversation.js; they share names through
// window.chinwag. This one starts the page.
"use strict";

(() => {
  const { ui, state, loadList, setBusy, loadModels, route } = window.chinwag;

  (async () => {
    await loadModels();
    await loadList();
    if (/^#c=\d+(&m=\d+)?$/.test(location.hash)) route();
    else setBusy(state.busy); // a reply may have been sent meanwhile
    ui.input.focus();
  })();
})();
