// The agent's presence: their own choice (online, away, offline) and their activity, which
// keeps an open inbox from turning "away" when idle. One ping a minute at most.
import { api } from "./api.js";
import { update } from "./store.js";

const PING_EVERY_MS = 60000;
let lastPing = 0;
let started = false;

function acted() {
  const now = Date.now();
  if (now - lastPing < PING_EVERY_MS) return;
  lastPing = now;
  api("POST", "/me/activity").catch(() => {}); // best effort: the live socket keeps them online anyway
}

export function startActivity() {
  api("GET", "/me/presence").then((p) => update({ myStatus: p.status, myPresence: p.presence })).catch(() => {});
  if (started) return;
  started = true;
  for (const kind of ["keydown", "pointerdown"]) document.addEventListener(kind, acted, { passive: true });
}

export async function setPresence(status) {
  const answer = await api("PUT", "/me/presence", { status });
  update({ myStatus: answer.status, myPresence: answer.presence });
}
