import { api } from "../lib/api.js";
import { html, useEffect, useRef, useState } from "../lib/html.js";
import { t } from "../lib/i18n.js";
import { update, useStore } from "../lib/store.js";

export function Login({ onSignedIn }) {
  const [error, setError] = useState("");
  const { loginNotice } = useStore(); // why the form is back (a changed password)
  const email = useRef(null);
  useEffect(() => email.current.focus(), []);
  async function submit(event) {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      const data = await api("POST", "/auth/login", { email: form.get("email"), password: form.get("password") });
      setError("");
      update({ loginNotice: "" });
      await onSignedIn(data.agent, data.csrf_token);
    } catch (e) { setError(e.message); }
  }
  return html`<main id="login" class="login">
    <form id="login-form" onSubmit=${submit}>
      <h1>Helpline</h1>
      ${loginNotice ? html`<p id="login-notice" role="status">${loginNotice}</p>` : null}
      <label>${t("login.email")} <input ref=${email} name="email" type="email" autocomplete="username" required /></label>
      <label>${t("login.password")} <input name="password" type="password" autocomplete="current-password" required /></label>
      <button type="submit">${t("login.submit")}</button>
      <p id="login-error" class="error" role="alert">${error}</p>
    </form>
  </main>`;
}
