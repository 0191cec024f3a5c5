// The page's shared state: one object, changed through update(), which re-renders.
import { useEffect, useState } from "./html.js";

const listeners = new Set();

export const state = {
  me: null,
  agents: [],
  online: [],
  canned: [],
  teams: [], // and categories, channels: lib/desk.js
  categories: [],
  channels: [],
  view: "open",
  filters: { q: "", channel: "", priority: "", team: "", category: "", tag: "" },
  page: 1,
  perPage: 25,
  list: { items: [], total: 0, total_is_lower_bound: false, loaded: false },
  counts: {},
  selected: new Set(), // ticket ids ticked for a bulk change
  focusedId: null, // the row the keyboard is on
  ticket: null, // { card, messages } of the ticket shown in the pane
  loadingId: null,
  connection: "open",
  dialog: null, // "shortcuts" | "merge" | "admin" | "roster" | "password" | ... | null
  myStatus: "online", // the agent's own presence choice
  notice: null, // { text, kind: "status" | "error" }
  loginNotice: "", // said above the sign-in form: why it is back (a changed password)
  composerMode: "reply",
  others: {}, // the other agents with the shown ticket open: id -> { name, seen, typingAt } (ms)
  // On a narrow screen (a phone) one pane shows at a time: the list, or the open ticket; the
  // views menu and the ticket's details open over them.
  pane: "list", // "list" | "ticket"
  menuOpen: false,
  detailsOpen: false,
};

// Whether the signed-in account may change tickets: a read-only one is shown no control the
// hub would refuse (composer, resolve, merge, log a call...), only what it may read.
export function canChange() {
  return Boolean(state.me) && state.me.role !== "read-only";
}

// Whether the ticket on screen may be changed: not by read-only accounts, and not once it left
// the agent's sight (lib/inbox.js lostSight), when every change would be refused.
export function canChangeTicket() {
  return canChange() && !state.ticket?.gone;
}

// The agents a ticket or a callback may be given to: active, and not read-only (the
// hub refuses those: a trial picked a read-only auditor and got a 422). `keep`: an id shown all
// the same (the ticket's current assignee, whoever that is now).
export function assignableAgents(keep = "") {
  return state.agents.filter((a) => a.id === keep || (a.active !== false && a.role !== "read-only"));
}

export function update(patch) {
  Object.assign(state, typeof patch === "function" ? patch(state) : patch);
  for (const listener of listeners) listener();
}

export function useStore() {
  const [, rerender] = useState(0);
  useEffect(() => {
    const listener = () => rerender((n) => n + 1);
    listeners.add(listener);
    return () => listeners.delete(listener);
  }, []);
  return state;
}
