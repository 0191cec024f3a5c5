// The inbox's own message catalogs (i18n/<language>.json), plurals and dates through Intl.
// A missing key falls back to English, then to the key itself.
const FALLBACK = "en";
let language = FALLBACK;
let catalog = {};
let fallback = {};
let available = [FALLBACK];
// System events in a thread are stored by key in the hub's own catalog (the `hub` domain,
// the one the server writes their `text` from): read from there, so each event has one
// translation however many screens show it.
let hubMessages = {};

async function loadCatalog(lang) {
  const resp = await fetch(`assets/i18n/${lang}.json`);
  if (!resp.ok) throw new Error(`no catalog for ${lang}`);
  return resp.json();
}

export async function loadLanguages() {
  const resp = await fetch("assets/i18n/index.json");
  available = resp.ok ? await resp.json() : [FALLBACK];
  return available;
}

export function languages() { return available; }
export function currentLanguage() { return language; }

// The best catalog for what the browser asks for: exact, then same primary language.
export function pickLanguage(wanted = navigator.languages || [navigator.language]) {
  for (const want of wanted) {
    if (!want) continue;
    const exact = available.find((a) => a.toLowerCase() === want.toLowerCase());
    if (exact) return exact;
    const primary = available.find((a) => a.split("-")[0] === want.split("-")[0].toLowerCase());
    if (primary) return primary;
  }
  return FALLBACK;
}

export async function setLanguage(lang) {
  const chosen = available.includes(lang) ? lang : pickLanguage();
  if (!Object.keys(fallback).length) fallback = await loadCatalog(FALLBACK);
  catalog = chosen === FALLBACK ? fallback : await loadCatalog(chosen);
  try {
    const resp = await fetch(`/i18n/hub/${encodeURIComponent(chosen)}.json`);
    hubMessages = resp.ok ? (await resp.json()).messages || {} : {};
  } catch (e) { hubMessages = {}; } // events then show the hub's own text
  language = chosen;
  document.documentElement.lang = chosen;
  document.title = t("app.title");
  return chosen;
}

// t("bulk.done", { count: 3 }): a plural entry is an object keyed by Intl.PluralRules.
export function t(key, vars = {}) {
  let entry = catalog[key] ?? fallback[key] ?? key;
  if (typeof entry === "object") {
    const rule = new Intl.PluralRules(language).select(vars.count ?? 0);
    entry = entry[rule] ?? entry.other;
  }
  return entry.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

// A plugin's name for people in the agent's language (the hub's catalog, as thread events
// name it: "FAQ 机器人", not "faq"); a plugin the catalog does not know by its own name.
export function pluginName(id) {
  const name = hubMessages[`event.plugin.${id}`];
  return typeof name === "string" ? name : id;
}

// A system event ({key, params}) in the agent's language; `fallbackText` (the hub's) when
// the catalog does not know the key. A parameter naming a value with its own entry
// (event.status.resolved) is shown through it, and one with names of its own (a team, in
// event.names) by the name in the agent's language, as the server does.
export function eventText(event, fallbackText) {
  // An event with a time in it reads from the inbox's own catalog: the hub's text says
  // "… 10:30 UTC", the inbox shows the time in the agent's zone, as the sidebar does.
  const local = event && TIMES.some((name) => name in (event.params || {})) ? catalog[event.key] ?? fallback[event.key] : undefined;
  const text = local ?? (event && hubMessages[event.key]);
  if (typeof text !== "string") return fallbackText;
  const params = event.params || {};
  return text.replace(/\{(\w+)\}/g, (whole, name) => {
    if (!(name in params)) return whole;
    if (local !== undefined && TIMES.includes(name)) return eventTime(params[name]);
    if (event.names?.[name]) return pickLabel(event.names[name]) || String(params[name]); // a team: its name, not its id
    const named = hubMessages[`event.${name}.${params[name]}`];
    return typeof named === "string" ? named : String(params[name]);
  });
}

// Event parameters that are a time, stored as "YYYY-MM-DD HH:MM" in UTC (hub/actions.py).
const TIMES = ["until"];

function eventTime(value) {
  const at = new Date(`${String(value).replace(" ", "T")}Z`);
  return Number.isNaN(at.getTime()) ? String(value) : formatFull(at.toISOString());
}

export function formatTime(iso, now = new Date()) {
  if (!iso) return "";
  const d = new Date(iso);
  const sameDay = d.toDateString() === now.toDateString();
  return new Intl.DateTimeFormat(language, sameDay ? { hour: "2-digit", minute: "2-digit" } : { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }).format(d);
}

// `timeZone`: said in that zone, which it names ("09:00 GMT+8"), not the browser's (a team's
// calendar opens at 09:00 in Shanghai: a trial in UTC read "01:00").
// The zone a datetime-local field is read in: the browser's, which may not be the desk's
// (a trial's agent could not tell in which zone the call form's times were).
export function localZone() { return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; }

export function formatFull(iso, timeZone) {
  if (!iso) return "";
  const zone = timeZone ? { timeZone, timeZoneName: "short" } : {};
  const options = timeZone ? { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", ...zone } : { dateStyle: "medium", timeStyle: "short" };
  return new Intl.DateTimeFormat(language, options).format(new Date(iso));
}

// How long ago, compactly ("5 min", "3 hr", "2 days"), in the agent's language.
export function formatWaiting(iso, now = Date.now()) {
  return iso ? formatSpan((now - new Date(iso).getTime()) / 1000) : "";
}

// A length of time, compactly ("5 min", "3 hr", "2 days"); negative counts as its size. Any
// time at all is at least "1 min" (20 s overdue is not "overdue by 0 min"), whole minutes
// rounded up (20 s left is "1 min left").
export function formatSpan(seconds) {
  const size = Math.abs(seconds);
  const minutes = size === 0 ? 0 : Math.max(1, Math.ceil(size / 60 - 1e-9));
  const [value, unit] = minutes < 60 ? [minutes, "minute"] : minutes < 1440 ? [Math.floor(minutes / 60), "hour"] : [Math.floor(minutes / 1440), "day"];
  return new Intl.NumberFormat(language, { style: "unit", unit, unitDisplay: "short" }).format(value);
}

// A contact's name; an anonymous web-chat visitor (the API gives their short id) is named
// in the agent's language ("访客 V5U_n9"), not with the hub's "Visitor V5U_n9".
export function contactName(name, anonymousId) {
  return anonymousId ? t("contact.visitor", { id: anonymousId }) : name;
}

// A file's size in the agent's language: bytes spelled out ("24 bytes", "24字节": CLDR's
// short form is "24 byte" in English), kB and MB short ("1.5 kB").
export function formatSize(bytes) {
  const [value, unit] = bytes >= 1048576 ? [bytes / 1048576, "megabyte"] : bytes >= 1024 ? [bytes / 1024, "kilobyte"] : [bytes, "byte"];
  return new Intl.NumberFormat(language, { style: "unit", unit, unitDisplay: unit === "byte" ? "long" : "short", maximumFractionDigits: 1 }).format(value);
}

// A label given per language ({"zh-CN": "订单号", "en": "Order number"}) in the agent's:
// the exact language, then the same primary language, then English, then any.
export function pickLabel(labels = {}) {
  const primary = language.split("-")[0];
  const near = Object.keys(labels).find((lang) => lang.split("-")[0] === primary);
  return labels[language] ?? (near && labels[near]) ?? labels[FALLBACK] ?? Object.values(labels)[0] ?? "";
}

export function formatCount(n) { return new Intl.NumberFormat(language).format(n); }

// A share (0.87) as the agent's language writes a percentage ("87%", "87%").
export function formatPercent(share) { return new Intl.NumberFormat(language, { style: "percent" }).format(share); }

// A channel the inbox knows by kind in the agent's language; one named otherwise in config, as
// named (the contact card said "channel.platform" for a channel named so).
export function channelLabel(name) {
  const said = t(`channel.${name}`);
  return said === `channel.${name}` ? name : said;
}
