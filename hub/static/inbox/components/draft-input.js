// A text input whose typing stays the user's until they commit it (Enter or leaving the field).
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
