// Helpline inbox: Preact components (htm templates, no build step) over the /api/v1 JSON
// API and its live WebSocket. Customer text is only ever rendered as text; the one HTML
// view (a sanitised email body) goes into a sandboxed iframe with scripts off.
import { api, setSession } from "./lib/api.js";
import { html, render } from "./lib/html.js";
import { loadLanguages, pickLanguage, setLanguage } from "./lib/i18n.js";
import { loadChannels, loadDesk } from "./lib/desk.js";
import { failed, live, loadCounts, loadList, onSignedOut, openTicket, signedOut, startCountsTimer } from "./lib/inbox.js";
import { startActivity } from "./lib/presence.js";
import { state, update, useStore } from "./lib/store.js";
import { Inbox } from "./screens/inbox.js";
import { Login } from "./screens/login.js";

function App() {
  const s = useStore();
  return s.me ? html`<${Inbox} />` : html`<${Login} onSignedIn=${signedIn} />`;
}

async function signedIn(agent, csrf) {
  setSession(csrf, null);
  await setLanguage(agent.language || pickLanguage());
  update({ me: agent });
  loadDesk().catch(() => {});
  loadChannels();
  const [agents, canned] = await Promise.all([api("GET", "/agents"), api("GET", "/canned")]);
  update({ agents: agents.items, online: agents.online || [], canned: canned.items });
  loadList().catch(() => {});
  loadCounts();
  startCountsTimer();
  live.start(); // one socket per page, however often the agent signs in
  startActivity();
  followLink();
}

// Links the hub sends agents (a page mail, the daily report): /inbox/#/tickets/<id> opens that
// ticket, /inbox/#/reports the reports; followed once signed in, and when the hash changes.
const TICKET_LINK = /^#\/tickets\/([A-Za-z0-9_-]{1,64})$/;
function followLink() {
  if (!state.me) return;
  const ticket = TICKET_LINK.exec(location.hash);
  if (ticket) openTicket(ticket[1]).catch(failed); // one the agent may not see: "not found", as anywhere
  else if (location.hash === "#/reports" && ["admin", "supervisor"].includes(state.me.role)) update({ dialog: "reports" });
}
window.addEventListener("hashchange", followLink);

onSignedOut(() => update({ me: null, ticket: null, dialog: null }));
setSession("", signedOut); // a 401 from any call: the sign-in form, and no live socket

async function start() {
  await loadLanguages();
  await setLanguage(pickLanguage());
  let me = null;
  try {
    const resp = await fetch("/api/v1/me");
    if (resp.ok) me = await resp.json();
  } catch (e) { /* offline: the sign-in form says so when used */ }
  render(html`<${App} />`, document.getElementById("root"));
  if (me) await signedIn(me.agent, me.csrf_token);
  else update({ me: null });
  document.body.dataset.ready = "1"; // for tests and scripts: the first screen is drawn
}

start();
export { state };
