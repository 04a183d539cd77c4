// chinwag serve: talking to the server: the session key, call() and getJSON(),
// and what the page says when its server is gone or was restarted.
"use strict";

(() => {
  const cw = window.chinwag;

  // The session key (see web/security.py): the cookie opens only the page, so
  // every request carries this key in a header. The token in the address is
  // exchanged for it once, then leaves the address bar; the key is kept in
  // localStorage, which is this origin's alone (its port included), so a
  // reload or a second tab works and no page on another port can read it.
  const SESSION_KEY = "chinwag-session";
  const session = (async () => {
    const token = new URLSearchParams(location.search).get("token");
    if (location.search) history.replaceState(null, "", location.pathname + location.hash);
    let key = "";
    if (token) {
      try {
        const response = await fetch("/api/session", { method: "POST", headers: { "x-chinwag-token": token } });
        if (response.ok) key = (await response.json()).session;
      } catch (error) { /* the calls below say what is wrong */ }
    }
    try {
      if (key) localStorage.setItem(SESSION_KEY, key);
      else key = localStorage.getItem(SESSION_KEY) || "";
    } catch (error) { /* storage turned off: this tab keeps the key in memory */ }
    return key;
  })();

  // Every request to the server goes through here, so what each one must carry
  // (credentials, headers) is decided in one place.
  async function call(path, init) {
    const options = Object.assign({}, init);
    options.headers = new Headers(options.headers);
    options.headers.set("x-chinwag-session", await session);
    return fetch(path, options);
  }

  async function getJSON(path) {
    const response = await call(path, { headers: { accept: "application/json" } });
    if (stale(response)) throw new Error(STALE_PAGE);
    if (!response.ok) throw new Error((await response.json().catch(() => ({}))).error || response.statusText);
    return response.json();
  }

  // -- when the server is gone or was restarted ----------------------------------------

  // Each start of `chinwag serve` has its own keys: a server started since this
  // page was loaded knows neither its session key (401) nor its page key (403).
  function stale(response) {
    return response.status === 401 || response.status === 403;
  }
  const STALE_PAGE = "This page is from an earlier chinwag serve; open the new address it printed.";
  const SERVER_GONE = "Not sent: chinwag serve is not reachable (stopped?); your message is kept.";
  const LOST = "The connection to chinwag serve was lost.";
  const ELSEWHERE = "A reply is streaming on another branch of this conversation; send here once it has ended.";

  Object.assign(cw, { call, getJSON, stale, STALE_PAGE, SERVER_GONE, LOST, ELSEWHERE });
})();
