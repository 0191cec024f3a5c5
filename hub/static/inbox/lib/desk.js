// Teams, categories and channels as the inbox shows them: loaded once after sign-in and again
// when an admin changes them (the hub's desk.updated event). Ids stay the values everywhere;
// what the agent reads is the name in their language.
import { api } from "./api.js";
import { pickLabel } from "./i18n.js";
import { onLiveEvent } from "./inbox.js";
import { state, update } from "./store.js";
import { CHANNELS } from "./views.js";

// Logged from the inbox whatever the configuration says, so always a channel to filter by.
const ALWAYS = ["phone"];

// Only a change redraws: a redraw resets what an agent is ticking in an open form.
function changed(patch) {
  if (Object.entries(patch).some(([key, value]) => JSON.stringify(state[key]) !== JSON.stringify(value))) update(patch);
}

export async function loadDesk() {
  const [teams, categories] = await Promise.all([api("GET", "/teams"), api("GET", "/categories")]);
  changed({ teams: teams.items, categories: categories.items });
}

// The channels this hub has configured, from its channels' state (/healthz). Where that is
// behind the metrics token, every channel the inbox knows.
export async function loadChannels() {
  const health = await fetch("/healthz", { credentials: "same-origin" }).then((r) => r.json()).catch(() => ({}));
  const configured = Object.keys(health.channels || {});
  changed({ channels: configured.length ? [...new Set([...configured, ...ALWAYS])] : CHANNELS });
}

onLiveEvent((event) => {
  if (event.type === "desk.updated" || event.type === "resync") loadDesk().catch(() => {});
});

export function teamLabel(id) {
  const team = state.teams.find((x) => x.id === id);
  return team ? pickLabel(team.names) || id : id;
}

export function categoryLabel(id) {
  const category = state.categories.find((x) => x.id === id);
  return category ? pickLabel(category.names) || id : id;
}

// The category tree in reading order, each with its depth: a parent, then its subcategories
// (in the hub's order), then the next parent. A category whose parent is unknown shows at the top.
export function categoryTree(categories = state.categories) {
  const ids = new Set(categories.map((c) => c.id));
  const children = (parent) => categories.filter((c) => (ids.has(c.parent_id) ? c.parent_id : null) === parent);
  const walk = (parent, depth, seen) => children(parent).filter((c) => !seen.has(c.id)).flatMap((c) => {
    seen.add(c.id);
    return [{ category: c, depth }, ...walk(c.id, depth + 1, seen)];
  });
  return walk(null, 0, new Set());
}

// [id, label] pairs for a <select>: subcategories indented under their parent.
export function categoryOptions(categories = state.categories) {
  return categoryTree(categories).map(({ category, depth }) => [category.id, `${"\u00a0\u00a0\u00a0".repeat(depth)}${depth ? "└ " : ""}${pickLabel(category.names) || category.id}`]);
}

export function teamOptions(teams = state.teams) {
  return teams.map((team) => [team.id, pickLabel(team.names) || team.id]);
}
