// The reply box. It keeps its own draft (per ticket, across switches) and is never
// re-created by live updates: only opening another ticket gives another composer.
import { api } from "../lib/api.js";
import { html, useEffect, useRef, useState } from "../lib/html.js";
import { t } from "../lib/i18n.js";
import { TYPING_SHOWN_MS, VIEWER_GONE_MS, failed, lastShownMessage, sendMessage, uploadFile } from "../lib/inbox.js";
import { state, update, useStore } from "../lib/store.js";

const drafts = new Map(); // ticket id -> unsent text
const begunAfter = new Map(); // ticket id -> the newest message when its draft was begun
const inserters = new Map(); // ticket id -> how its mounted composer takes inserted text

// Put `text` into the ticket's reply box (after what is typed there) to edit before sending;
// false when the ticket has no reply box (read-only, merged).
export function insertIntoReply(conversationId, text) {
  const insert = inserters.get(conversationId);
  if (!insert) return false;
  insert(text);
  return true;
}
const TYPING_EVERY_MS = 2500;

function cannedMatches(text) {
  const match = text.match(/(^|\s)\/([\w-]*)$/);
  return match ? state.canned.filter((x) => x.shortcut.startsWith(match[2].toLowerCase())) : [];
}

// Who else has this ticket open, and who of them is writing to the customer (Zendesk's
// collision warning): two agents answered one customer 0.3 s apart, neither knowing (a trial).
function OtherAgents({ others }) {
  const [, tick] = useState(0);
  useEffect(() => { const timer = setInterval(() => tick((n) => n + 1), 5000); return () => clearInterval(timer); }, []);
  const now = Date.now();
  const here = Object.values(others || {}).filter((o) => now - o.seen < VIEWER_GONE_MS);
  const typing = here.filter((o) => now - o.typingAt < TYPING_SHOWN_MS);
  const names = (list) => list.map((o) => o.name).join(", ");
  const said = typing.length ? t("collision.typing", { names: names(typing) }) : here.length ? t("collision.viewing", { names: names(here) }) : "";
  return html`<div class="others ${typing.length ? "warn" : ""}" id="others" role="status" aria-live="polite">${said}</div>`;
}

export function Composer({ conversation, sendsFiles, takesReplies = true }) {
  const s = useStore();
  const id = conversation.id;
  const [text, setText] = useState(() => drafts.get(id) || "");
  const [files, setFiles] = useState([]);
  const [picker, setPicker] = useState(0);
  const [busy, setBusy] = useState(false);
  const area = useRef(null);
  const lastTyping = useRef(0);
  const note = !takesReplies || s.composerMode === "note"; // a phone ticket: notes only, nothing carries a reply
  const found = cannedMatches(text);

  function change(value) {
    setText(value);
    drafts.set(id, value);
    if (!value.trim()) begunAfter.delete(id);
    else if (!begunAfter.has(id)) begunAfter.set(id, lastShownMessage(id));
    setPicker(0);
    if (!note && Date.now() - lastTyping.current > TYPING_EVERY_MS) {
      lastTyping.current = Date.now();
      api("POST", `/conversations/${id}/typing`).catch(() => {});
    }
  }

  useEffect(() => {
    inserters.set(id, (snippet) => {
      const typed = (drafts.get(id) || "").replace(/\s+$/, "");
      change(typed ? `${typed}\n\n${snippet}` : snippet);
      if (takesReplies) update({ composerMode: "reply" });
      area.current?.focus();
    });
    return () => inserters.delete(id);
  }, [id, takesReplies]);

  function insert(canned) {
    change(text.replace(/(^|\s)\/[\w-]*$/, `$1${canned.text}`));
    area.current.focus();
  }

  async function attach(event) {
    const chosen = [...event.target.files];
    event.target.value = "";
    for (const file of chosen) {
      try {
        const uploaded = await uploadFile(id, file);
        setFiles((now) => [...now, uploaded]);
      } catch (e) { failed(e); }
    }
  }

  async function submit(event) {
    event.preventDefault();
    if ((!text.trim() && !files.length) || busy) return;
    setBusy(true);
    try {
      const attachments = note ? [] : files.map((f) => ({ ref: f.ref, name: f.name }));
      const sent = await sendMessage(id, { text: text.trim(), kind: note ? "note" : "reply", attachments, seen: begunAfter.get(id) || lastShownMessage(id) });
      if (sent) {
        setText(""); setFiles([]); drafts.delete(id); begunAfter.delete(id);
        // The keyboard goes back to the shortcuts: a trial's `n` for a note, typed after a reply
        // went, landed in the reply box, and the "note" went to the customer. `r` writes again.
        area.current?.blur();
      }
      else begunAfter.set(id, lastShownMessage(id)); // kept: the other answer is read now, the next send goes
    } catch (e) { failed(e); } finally { setBusy(false); }
  }

  function keydown(event) {
    if (found.length) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        setPicker((i) => (i + (event.key === "ArrowDown" ? 1 : found.length - 1)) % found.length);
        return;
      }
      if (event.key === "Enter" || event.key === "Tab") { event.preventDefault(); insert(found[Math.min(picker, found.length - 1)]); return; }
      if (event.key === "Escape") { event.preventDefault(); change(text.replace(/\/[\w-]*$/, "")); return; }
    }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); event.target.form.requestSubmit(); }
  }

  const active = Math.min(picker, found.length - 1);
  return html`<form class="compose ${note ? "note-mode" : ""}" onSubmit=${submit} aria-label=${t("composer.label")}>
    ${found.length ? html`<ul class="suggestions" id="canned-picker" role="listbox" aria-label=${t("composer.canned")}>
      ${found.map((x, i) => html`<li id="canned-${i}" role="option" aria-selected=${i === active ? "true" : "false"} class=${i === active ? "active" : ""} onMouseDown=${(e) => { e.preventDefault(); insert(x); }}>/${x.shortcut} — ${x.title}</li>`)}
    </ul>` : null}
    <div class="typing" id="typing" role="status" aria-live="polite">${s.typing ? t("composer.customer_typing") : ""}</div>
    <${OtherAgents} others=${s.others} />
    <label class="sr-only" for="composer-text">${note ? t("composer.note_label") : t("composer.reply_label")}</label>
    <textarea id="composer-text" ref=${area} value=${text} placeholder=${note ? t("composer.note_hint") : t("composer.reply_hint")}
      aria-controls=${found.length ? "canned-picker" : null} aria-activedescendant=${found.length ? `canned-${active}` : null}
      onInput=${(e) => change(e.target.value)} onKeyDown=${keydown}></textarea>
    ${files.length ? html`<ul class="files" aria-label=${t("composer.files")}>${files.map((f) => html`<li>📎 ${f.name}
      <button type="button" class="link" aria-label=${t("composer.remove_file", { name: f.name })} onClick=${() => setFiles(files.filter((x) => x !== f))}>×</button></li>`)}</ul>` : null}
    <div class="row">
      <fieldset class="mode"><legend class="sr-only">${t("composer.mode")}</legend>
        <label><input type="radio" name="mode" value="reply" checked=${!note} disabled=${!takesReplies} onChange=${() => update({ composerMode: "reply" })} /> ${t("composer.reply")}</label>
        <label><input type="radio" name="mode" value="note" checked=${note} onChange=${() => update({ composerMode: "note" })} /> ${t("composer.note")}</label>
      </fieldset>
      ${takesReplies ? null : html`<span class="hint" id="composer-notes-only">${t("composer.notes_only_phone")}</span>`}
      ${sendsFiles && !note ? html`<label class="attach">📎 ${t("composer.attach")} <input type="file" class="sr-only" id="composer-files" multiple onChange=${attach} /></label>` : null}
      <button type="submit" disabled=${busy}>${note ? t("composer.add_note") : t("composer.send")}</button>
    </div>
  </form>`;
}
