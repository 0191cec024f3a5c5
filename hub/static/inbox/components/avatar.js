import { html } from "../lib/html.js";

// Initials on one of eight colours picked from the id: no image, nothing fetched.
export function Avatar({ id, name, label }) {
  const initials = (name || "?").trim().split(/\s+/).map((w) => [...w][0]).slice(0, 2).join("").toUpperCase();
  let hash = 0;
  for (const ch of id || "") hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return html`<span class="avatar c${hash % 8}" role="img" aria-label=${label} title=${label}>${initials}</span>`;
}
