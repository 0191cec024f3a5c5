// The knowledge base: a searchable list of articles, an editor with a live preview (the
// server's sanitised HTML of the Markdown), and each article's history. Agents read;
// admins and supervisors write. A save names the version it started from, so an edit made
// meanwhile by someone else is refused (409) instead of overwritten.
import { api } from "../lib/api.js";
import { html, useEffect, useRef, useState } from "../lib/html.js";
import { currentLanguage, formatFull, t } from "../lib/i18n.js";
import { failed, notify } from "../lib/inbox.js";
import { useStore } from "../lib/store.js";
import { categoryLabel, categoryOptions } from "../lib/desk.js";
import { Dialog } from "../components/dialog.js";
import { ReviewQueue } from "../components/kb-review.js";

const EMPTY = { id: "", title: "", answer: "", language: "zh-CN", group: "", category: "", tags: [], examples: [], status: "draft", version: 0 };
const lines = (text) => text.split("\n").map((x) => x.trim()).filter(Boolean);
// The articles in the agent's own language first (a zh-CN desk met thirty English titles
// before its own), each language in the server's order.
const mineFirst = (items) => {
  const mine = currentLanguage().split("-")[0];
  return [...items].sort((a, b) => (a.language.split("-")[0] !== mine) - (b.language.split("-")[0] !== mine));
};

// The sanitised HTML comes from the server (markdown-it, then nh3): the only HTML put in the page.
function Preview({ answer }) {
  const [rendered, setRendered] = useState("");
  const timer = useRef(null);
  useEffect(() => {
    clearTimeout(timer.current);
    let current = true;
    timer.current = setTimeout(async () => {
      try { const r = await api("POST", "/kb/preview", { answer }); if (current) setRendered(r.html); } catch (e) { /* the next keystroke tries again */ }
    }, 250);
    return () => { current = false; };
  }, [answer]);
  return html`<div id="kb-preview" class="kb-preview" aria-live="polite" dangerouslySetInnerHTML=${{ __html: rendered }}></div>`;
}

// An old version as a reader needs it to decide what to take back: every field, not only its text.
function OldVersion({ version, canWrite, onRestore }) {
  const a = version.article;
  const list = (items) => (items.length ? items.join(t("kb.comma")) : "—");
  return html`<section id="kb-old-version" class="kb-old"><h3>${t("kb.version", { version: version.version })}${t("kb.colon")}${a.title}</h3>
    <dl class="kb-old-fields">
      <dt>${t("kb.field.status")}</dt><dd>${t(`kb.status.${a.status}`)}</dd>
      <dt>${t("kb.field.category")}</dt><dd>${a.category ? categoryLabel(a.category) : t("kb.category.none")}</dd>
      <dt>${t("kb.field.tags")}</dt><dd>${list(a.tags)}</dd>
      <dt>${t("kb.field.examples")}</dt><dd><ul>${a.examples.map((x) => html`<li>${x}</li>`)}</ul></dd>
    </dl>
    <div class="kb-preview" dangerouslySetInnerHTML=${{ __html: a.html }}></div>
    ${canWrite ? html`<p><button type="button" id="kb-restore" onClick=${() => onRestore(a)}>${t("kb.restore")}</button>
      <span class="hint">${t("kb.restore_hint")}</span></p>` : null}</section>`;
}

// Who changed a version, in the reader's language: the hub writes the command line's changes
// as "command line (root)" (a trial's zh history read it in English).
function editor(who) {
  const cli = /^command line \((.*)\)$/.exec(who || "");
  return cli ? `${t("audit.via_cli")} (${cli[1]})` : who || "—";
}

// A field's name without the form's hint: 答案, not 答案（Markdown）.
const fieldName = (f) => t(`kb.field.${f}`).replace(/\s*[（(][^（()）]*[）)]$/, "");

function History({ article, canWrite, onRestore }) {
  const [versions, setVersions] = useState([]);
  const [shown, setShown] = useState(null);
  useEffect(() => { api("GET", `/kb/articles/${encodeURIComponent(article.id)}/versions`).then((r) => setVersions(r.items), failed); }, [article.id, article.version]);
  return html`<div id="kb-history"><ol class="kb-versions">${versions.map((v) => html`<li data-version=${v.version}>
      <button type="button" class="link" onClick=${() => setShown(v)}>${t("kb.version", { version: v.version })}</button>
      ${" "}${formatFull(v.article.updated_at)} · ${editor(v.article.updated_by)} · ${v.changed.map(fieldName).join(t("kb.comma"))}</li>`)}</ol>
    ${shown ? html`<${OldVersion} version=${shown} canWrite=${canWrite} onRestore=${onRestore} />` : null}</div>`;
}

// What the editor shows of an article: a draft compares with it to tell an unsaved edit.
const editable = (a) => ({ ...a, tagsText: a.tags.join(", "), examplesText: a.examples.join("\n") });
const EDITED = ["id", "title", "answer", "language", "group", "category", "status", "tagsText", "examplesText"];

// Keyed by the article's id and version (see Knowledge): another article, or this one saved,
// is a new Editor with a fresh draft. An effect that reset the draft ran after the first
// render, so a choice made before it (a category picked on a loaded machine) was undone.

function Editor({ article, canWrite, onSaved, unsaved, onOpen }) {
  const { categories } = useStore(); // the desk's: an article's questions go to its category's team
  const [draft, setDraft] = useState(editable(article));
  // Read by the list and the dialog before they drop this editor (another article, Esc, ×).
  const original = editable(article);
  unsaved.current = canWrite && EDITED.some((name) => draft[name] !== original[name]);
  const [tab, setTab] = useState("edit");
  // Each change applies to the draft as it is then, not as this render saw it: two events
  // before the next render (a choice, then typing) would otherwise undo the first.
  const set = (name) => (event) => { const value = event.target.value; setDraft((d) => ({ ...d, [name]: value })); };
  // An old version's fields into the draft, back on the edit tab: a save makes it the newest
  // version (history is never rewritten); the id, language and group stay this article's.
  function restore(old) {
    const o = editable(old);
    setDraft((d) => ({ ...d, title: o.title, answer: o.answer, category: o.category, status: o.status, tagsText: o.tagsText, examplesText: o.examplesText }));
    setTab("edit");
  }
  async function save(event) {
    event.preventDefault();
    const body = {
      title: draft.title, answer: draft.answer, language: draft.language, category: draft.category, status: draft.status,
      tags: draft.tagsText.split(/[,，]/).map((x) => x.trim()).filter(Boolean), examples: lines(draft.examplesText),
    };
    if (draft.group && draft.group !== article.id) body.group = draft.group;
    try {
      const saved = article.version
        ? await api("PATCH", `/kb/articles/${encodeURIComponent(article.id)}`, { ...body, version: article.version })
        : await api("POST", "/kb/articles", draft.id ? { ...body, id: draft.id } : body);
      notify(t("kb.saved", { version: saved.version }));
      onSaved(saved);
    } catch (e) { failed(e); }
  }
  const readOnly = !canWrite;
  return html`<form id="kb-editor" class="kb-editor" onSubmit=${save}>
    <div class="row"><div role="tablist">
      <button type="button" role="tab" id="kb-tab-edit" aria-selected=${tab === "edit"} onClick=${() => setTab("edit")}>${t("kb.edit")}</button>
      ${article.version ? html`<button type="button" role="tab" id="kb-tab-history" aria-selected=${tab === "history"} onClick=${() => setTab("history")}>${t("kb.history")}</button>` : null}</div>
      ${article.version && article.status === "published" ? html`<a href=${`/help/${article.language}/articles/${article.id}-${article.slug}`} target="_blank" rel="noopener">${t("kb.public_page")}</a>` : null}
    </div>
    ${tab === "history" ? html`<${History} article=${article} canWrite=${canWrite} onRestore=${restore} />` : html`
    ${article.version ? null : html`<label class="field">${t("kb.id")} <input id="kb-id" value=${draft.id} onInput=${set("id")} placeholder=${t("kb.id_hint")} /></label>`}
    <label class="field">${t("kb.field.title")} <input id="kb-title" required value=${draft.title} onInput=${set("title")} readOnly=${readOnly} /></label>
    <div class="row">
      <label class="field">${t("kb.field.language")} <select id="kb-language" value=${draft.language} onChange=${set("language")} disabled=${readOnly}>
        <option value="zh-CN">中文 (zh-CN)</option><option value="en">English (en)</option></select></label>
      <label class="field">${t("kb.field.status")} <select id="kb-status" value=${draft.status} onChange=${set("status")} disabled=${readOnly}>
        <option value="draft">${t("kb.status.draft")}</option><option value="published">${t("kb.status.published")}</option></select></label>
      <label class="field">${t("kb.field.category")} <select id="kb-category" value=${draft.category} onChange=${set("category")} disabled=${readOnly}>
        <option value="">${t("kb.category.none")}</option>
        ${categoryOptions(categories).map(([id, label]) => html`<option value=${id}>${label}</option>`)}
        ${draft.category && !categories.some((c) => c.id === draft.category) ? html`<option value=${draft.category}>${draft.category}</option>` : null}</select></label>
      <label class="field">${t("kb.field.group")} <input id="kb-group" value=${draft.group} onInput=${set("group")} readOnly=${readOnly} placeholder=${t("kb.group_hint")} /></label>
    </div>
    <label class="field">${t("kb.field.tags")} <input id="kb-tags" value=${draft.tagsText} onInput=${set("tagsText")} readOnly=${readOnly} /></label>
    <div class="kb-split">
      <label class="field">${t("kb.field.answer")} <textarea id="kb-answer" rows="12" required value=${draft.answer} onInput=${set("answer")} readOnly=${readOnly}></textarea></label>
      <div><span class="field">${t("kb.preview")}</span><${Preview} answer=${draft.answer} /></div>
    </div>
    <label class="field">${t("kb.field.examples")} <textarea id="kb-examples" rows="6" value=${draft.examplesText} onInput=${set("examplesText")} readOnly=${readOnly}></textarea></label>
    ${article.translations?.length ? html`<p class="hint" id="kb-translations">${t("kb.translations")}${t("kb.colon")}${article.translations.map((x, i) => html`${i ? t("kb.comma") : ""}<button type="button" class="link" data-id=${x.id}
      onClick=${() => onOpen(x.id)}>${x.title} (${x.language})</button>`)}</p>` : null}
    ${canWrite ? html`<p><button type="submit" id="kb-save">${t("kb.save")}</button></p>` : html`<p class="hint">${t("kb.read_only")}</p>`}`}
  </form>`;
}

export function Knowledge() {
  const s = useStore();
  const canWrite = s.me.role === "admin" || s.me.role === "supervisor";
  const [query, setQuery] = useState("");
  const [items, setItems] = useState([]);
  const [open, setOpen] = useState(null);
  const [reviewing, setReviewing] = useState(false);
  const [waiting, setWaiting] = useState(null); // proposals in the review queue
  const unsaved = useRef(false); // the open editor's draft differs from its article
  const reviewed = useRef(new Set()); // the review queue's proposals with the reviewer's edits
  const anyUnsaved = () => unsaved.current || reviewed.current.size > 0;
  useEffect(() => { // a reload or a closed tab asks too (the browser's own question)
    const ask = (event) => { if (anyUnsaved()) event.preventDefault(); };
    window.addEventListener("beforeunload", ask);
    return () => window.removeEventListener("beforeunload", ask);
  }, []);
  const searching = useRef(null);
  const asked = useRef(0); // the latest list request: an older one answering late is dropped
  const [opened, setOpened] = useState(0); // a new editor for the same article after "discard"
  useEffect(() => () => clearTimeout(searching.current), []);
  const leave = () => !anyUnsaved() || window.confirm(t("dialog.discard"));
  async function load(q = query) {
    const mine = ++asked.current;
    try {
      const found = await api("GET", `/kb/articles?${new URLSearchParams(q ? { q } : {})}`);
      if (mine === asked.current) setItems(mineFirst(found.items));
    } catch (e) { failed(e); }
  }
  function typed(q) { // the list follows the words as they are typed, a moment after the last key
    setQuery(q);
    clearTimeout(searching.current);
    searching.current = setTimeout(() => load(q), 250);
  }
  useEffect(() => {
    load();
    if (canWrite) api("GET", "/kb/proposals?limit=200").then((r) => setWaiting(r.items.length), () => {});
  }, []);
  async function pick(id) {
    if (!leave()) return;
    try {
      const article = await api("GET", `/kb/articles/${encodeURIComponent(id)}`);
      unsaved.current = false;
      setOpened((n) => n + 1); // the same article again (its edit discarded) is a fresh editor too
      setOpen(article);
    } catch (e) { failed(e); }
  }
  const toggle = canWrite ? html`<p class="row"><button type="button" id="kb-toggle-review"
    onClick=${() => leave() && (unsaved.current = false, reviewed.current.clear(), setReviewing(!reviewing))}>${reviewing ? t("kb.review.back") : t("kb.review.open")}${waiting && !reviewing ? ` (${waiting})` : ""}</button></p>` : null;
  if (reviewing) {
    return html`<${Dialog} id="knowledge" title=${t("kb.title")} wide=${true} unsaved=${anyUnsaved}>${toggle}<h3>${t("kb.review.open")}</h3><${ReviewQueue} onCount=${setWaiting} edited=${reviewed.current} /><//>`;
  }
  return html`<${Dialog} id="knowledge" title=${t("kb.title")} wide=${true} unsaved=${anyUnsaved}>${toggle}
    <div class="kb">
      <div class="kb-list">
        <div class="row" role="search"><input id="kb-search" type="search" autofocus value=${query} placeholder=${t("kb.search")} aria-label=${t("kb.search")}
          onInput=${(e) => typed(e.target.value)} /></div>
        ${canWrite ? html`<button type="button" id="kb-new" onClick=${() => leave() && (unsaved.current = false, setOpen({ ...EMPTY }))}>${t("kb.new")}</button>` : null}
        ${items.length === 0 ? html`<p class="hint">${t("kb.empty")}</p>` : html`<ul id="kb-articles">${items.map((a) => html`<li data-id=${a.id}>
          <button type="button" class=${open && open.id === a.id ? "link active" : "link"} onClick=${() => pick(a.id)}>${a.title}</button>
          <span class="hint"> ${a.language} · ${t(`kb.status.${a.status}`)}${a.category ? ` · ${categoryLabel(a.category)}` : ""}</span></li>`)}</ul>`}
      </div>
      ${open ? html`<${Editor} key=${`${open.id}:${open.version}:${opened}`} article=${open} canWrite=${canWrite} unsaved=${unsaved} onOpen=${pick}
        onSaved=${(saved) => { unsaved.current = false; setOpen(saved); load(); }} />` : html`<p class="hint">${t("kb.pick")}</p>`}
    </div>
  <//>`;
}
