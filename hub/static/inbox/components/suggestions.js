// The thread's suggestion panel: the knowledge-base articles that best answer the latest
// customer message, with the matcher's confidence. "Insert" puts the article's answer (in the
// contact's language where a translation exists) into the reply box to edit; nothing is sent.
import { api } from "../lib/api.js";
import { html, useEffect, useState } from "../lib/html.js";
import { formatPercent, t } from "../lib/i18n.js";
import { failed, notify } from "../lib/inbox.js";
import { canChangeTicket, useStore } from "../lib/store.js";
import { insertIntoReply } from "./composer.js";

// The newest customer message: the panel asks again only when another one arrives.
function latestQuestionId(messages) {
  for (let i = messages.length - 1; i >= 0; i -= 1) {
    const m = messages[i];
    if (m.direction === "inbound" && m.kind === "message") return m.id;
  }
  return "";
}

export function Suggestions({ conversationId, messages }) {
  const latest = latestQuestionId(messages);
  // The FAQ bot records a "no" in its own task, after the customer's message arrived: its
  // record's live event asks again, so the answer turned down is marked once it is known.
  const { recordsChanged } = useStore();
  const [found, setFound] = useState(null);
  useEffect(() => {
    if (!latest) { setFound({ items: [] }); return undefined; }
    let current = true;
    api("GET", `/conversations/${conversationId}/suggestions`)
      .then((r) => { if (current) setFound(r); })
      .catch((e) => { if (current) { setFound({ items: [] }); failed(e); } });
    return () => { current = false; };
  }, [conversationId, latest, recordsChanged]);

  function insert(item) {
    if (insertIntoReply(conversationId, item.text)) notify(t("suggest.inserted", { title: item.title }));
  }

  return html`<section id="suggestions" class="suggest card" aria-labelledby="suggestions-title" aria-busy=${found ? "false" : "true"}>
    <h2 id="suggestions-title">${t("suggest.title")}</h2>
    ${!found ? html`<p class="hint">${t("suggest.loading")}</p>`
      : !found.items.length ? html`<p class="hint">${t("suggest.none")}</p>`
      : html`<ol class="suggest-list">${found.items.map((item) => html`<li data-id=${item.id} data-article=${item.article_id}>
        <div class="suggest-head"><span class="suggest-title">${item.title}</span>
          ${item.turned_down ? html`<span class="badge turned-down">${t("suggest.turned_down")}</span>` : null}
          <span class="confidence" title=${t("suggest.confidence_hint")}>${t("suggest.confidence", { percent: formatPercent(item.confidence) })}</span></div>
        <p class="suggest-text">${item.text}</p>
        ${canChangeTicket() ? html`<button type="button" class="insert" aria-label=${t("suggest.insert_label", { title: item.title })}
          onClick=${() => insert(item)}>${t("suggest.insert")}</button>` : null}
      </li>`)}</ol>`}
  </section>`;
}
