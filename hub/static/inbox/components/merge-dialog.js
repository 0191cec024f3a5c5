// "Merge into…": search for the target (number or words), see what would move, then merge.
// A merge between two customers still asks first (the hub says who would see what).
import { api, latestOnly } from "../lib/api.js";
import { html, useEffect, useState } from "../lib/html.js";
import { contactName, formatTime, t } from "../lib/i18n.js";
import { failed, mergeInto } from "../lib/inbox.js";
import { Dialog } from "./dialog.js";

const searches = latestOnly();
const SEARCH_PAUSE_MS = 250;

async function findTargets(query, sourceId) {
  const q = query.trim().replace(/^#/, "");
  if (!q) return [];
  if (/^\d+$/.test(q)) {
    try { return [await api("GET", `/conversations/by-number/${q}`)].filter((c) => c.id !== sourceId); } catch (e) { return []; }
  }
  const page = await api("GET", `/conversations?${new URLSearchParams({ q, per_page: 10 })}`);
  return page.items.filter((c) => c.id !== sourceId && !c.merged_into);
}

// One line of the preview: every message that moves is listed (the count above counts them all).
function moved(message) {
  const text = message.text || (message.attachments || []).map((a) => a.name).join(", ");
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

export function MergeDialog({ card, messages }) {
  const source = card.conversation;
  const [query, setQuery] = useState("");
  const [results, setResults] = useState([]);
  const [target, setTarget] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    // Once typing pauses: "1001" looked up /1, /10 and /100 first, three 404s (a trial).
    const timer = setTimeout(() => {
      searches(() => findTargets(query, source.id)).then((found) => { if (found) setResults(found.result); }).catch(failed);
    }, SEARCH_PAUSE_MS);
    return () => clearTimeout(timer);
  }, [query]);
  const moving = messages.filter((m) => m.kind !== "event");
  const notes = moving.filter((m) => m.kind === "note").length;
  async function merge() {
    setBusy(true);
    try { await mergeInto(source.id, target); } catch (e) { failed(e); } finally { setBusy(false); }
  }
  return html`<${Dialog} id="merge-dialog" title=${t("merge.title", { number: source.number })} wide=${true}>
    <label class="field">${t("merge.search")}
      <input id="merge-search" type="search" autofocus value=${query} placeholder=${t("merge.search_hint")} onInput=${(e) => setQuery(e.target.value)} /></label>
    <fieldset class="targets"><legend>${t("merge.targets")}</legend>
      ${results.length ? results.map((c) => html`<label class="target"><input type="radio" name="merge-target" value=${c.id} checked=${target?.id === c.id} onChange=${() => setTarget(c)} />
        #${c.number} ${c.subject} <span class="badge">${t(`status.${c.status}`)}</span> ${c.contact_name ? html`<span class="who">${contactName(c.contact_name, c.contact_anonymous)}</span>` : null}</label>`)
        : html`<p class="hint">${query.trim() ? t("merge.nothing_found") : t("merge.type_to_search")}</p>`}
    </fieldset>
    ${target ? html`<section class="merge-preview" aria-live="polite" aria-labelledby="merge-preview-title">
      <h3 id="merge-preview-title">${t("merge.preview")}</h3>
      <p>${t("merge.moves", { count: moving.length, notes, source: source.number, target: target.number })}</p>
      <ul class="moving" tabindex="0" aria-label=${t("merge.preview")}>${moving.map((m) => html`<li><time datetime=${m.created_at}>${formatTime(m.created_at)}</time> ${moved(m)}</li>`)}</ul>
      <p>${t("merge.source_closed", { source: source.number })}</p>
      ${target.contact_id !== source.contact_id ? html`<p class="warning">${t("merge.other_customer")}</p>` : null}
    </section>` : null}
    <div class="row end">
      <button type="button" id="merge-confirm" disabled=${!target || busy} onClick=${merge}>${target ? t("merge.do", { target: target.number }) : t("merge.choose")}</button>
    </div>
  <//>`;
}
