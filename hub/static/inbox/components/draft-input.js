// Text inputs whose typing stays the user's until they commit it (Enter or leaving the field).
// The inbox re-renders on every live event; an input bound only to the committed value would
// be reset to it mid-word (Preact writes `value` whenever it differs from the field's).
import { html, useEffect, useRef, useState } from "../lib/html.js";

export function DraftInput({ value, onCommit, ...attributes }) {
  const [draft, setDraft] = useState(value);
  // A change from elsewhere (filters cleared) shows; the effect's first run, after the first
  // render, must not: it would undo what was typed before it ran (a loaded machine).
  const shown = useRef(value);
  useEffect(() => {
    if (shown.current !== value) {
      shown.current = value;
      setDraft(value);
    }
  }, [value]);
  return html`<input ...${attributes} value=${draft}
    onInput=${(e) => setDraft(e.target.value)} onChange=${(e) => onCommit(e.target.value)} />`;
}

// A field saved when it changes (a ticket's custom field, a plugin's record): onCommit answers
// whether the hub took the value. It takes fresh values from live updates, except while the
// agent is typing in it or a refused value waits to be corrected. What the agent typed stays
// shown while it is saved; a value the hub refuses stays too, marked invalid, so it can be
// corrected rather than typed again (a trial's "ab2024091" vanished with the refusal).
export function SavedInput({ value, onCommit, ...attributes }) {
  const [draft, setDraft] = useState(value);
  const [refused, setRefused] = useState(null); // the stored value when the hub refused the draft
  const editing = useRef(false);
  // A new stored value (another agent, a rule) replaces a refused draft: it is the news.
  useEffect(() => { if (refused !== null && value !== refused) setRefused(null); }, [value]);
  useEffect(() => { if (!editing.current && refused === null) setDraft(value); }, [value, refused]);
  const commit = async (typed) => {
    if (typed === value) { setRefused(null); return; }
    setRefused((await onCommit(typed)) ? null : value);
  };
  return html`<input ...${attributes} value=${draft} aria-invalid=${refused !== null ? "true" : null}
    onFocus=${() => { editing.current = true; }} onBlur=${() => { editing.current = false; }}
    onInput=${(e) => setDraft(e.target.value)} onChange=${(e) => commit(e.target.value.trim())} />`;
}

