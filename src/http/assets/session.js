// The session: signing in and out, the header that shows who is signed in, and the console-off page.

import { api } from "./api.js";
import { field, h } from "./dom.js";
import { mount, updateNav } from "./page.js";
import { render } from "./router.js";
import { state } from "./state.js";
import { flash, report } from "./toast.js";

export function setSession(session) {
  state.user = session.user;
  state.csrf = session.csrf_token;
  updateHeader();
}

function updateHeader() {
  const signedIn = Boolean(state.user);
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("user-box").hidden = !signedIn;
  document.getElementById("user-name").textContent = state.user ?? "";
}

export function showSignIn(notice) {
  if (state.unsaved?.() && state.unsavedText) state.rescue = state.unsavedText();
  state.user = null;
  state.csrf = null;
  state.unsaved = null;
  state.unsavedText = null;
  state.renderId++; // anything still loading belongs to the old session
  updateHeader();
  updateNav(null);
  if (document.getElementById("sign-in")) return;

  const name = h("input", { id: "sign-in-name", type: "text", autocomplete: "name", required: true });
  const token = h("input", { id: "sign-in-token", type: "password", autocomplete: "current-password", required: true });
  const problem = h("p", { class: "form-error", id: "sign-in-error", role: "alert" });
  const button = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    { id: "sign-in", class: "panel sign-in", novalidate: true },
    h("h1", {}, "Sign in"),
    notice ? h("p", { class: "notice" }, notice) : null,
    h("p", {}, "Sign in to see what customers were told, edit templates and follow up on escalations."),
    field("Your name", name, "Shown as the author of your template changes."),
    field("Admin token", token, "The token set in AMENDS_ADMIN_TOKEN. Ask whoever runs amends if you do not have it."),
    problem,
    h("div", { class: "actions" }, button),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.textContent = "";
    const withPassword = form.dataset.with === "password";
    const secret = withPassword ? "your password" : "the admin token";
    if (!name.value.trim() || !token.value) {
      problem.textContent = `Please fill in your name and ${secret}.`;
      (name.value.trim() ? token : name).focus();
      return;
    }
    button.disabled = true;
    try {
      const credentials = withPassword ? { password: token.value } : { token: token.value };
      const session = await api("POST", "/api/session", { name: name.value.trim(), ...credentials });
      setSession(session);
      flash(`Signed in as ${session.user}.`);
      render();
    } catch (err) {
      if (err.handled) return;
      problem.textContent =
        err.status === 429
          ? "Too many sign-in attempts. Wait a minute, then try again."
          : err.status === 401
          ? withPassword
            ? "That name and password were not accepted. Check them and try again."
            : "That admin token was not accepted. Check it and try again."
          : err.message;
      token.focus();
      token.select();
    } finally {
      button.disabled = false;
    }
  });
  mount(h("div", { class: "page narrow" }, form), "Sign in", name);
  askForPasswordIfPeopleHaveOne(form);
}

// With AMENDS_ADMIN_USERS, people sign in with their own password instead of the token.
async function askForPasswordIfPeopleHaveOne(form) {
  try {
    const response = await fetch("/api/sign-in", { credentials: "same-origin" });
    const answer = response.ok ? await response.json() : null;
    if (answer?.with !== "password" || !form.isConnected) return;
    form.dataset.with = "password";
    form.querySelector('label[for="sign-in-token"]').textContent = "Password";
    document.getElementById("sign-in-token-hint").textContent = "Your own password. Ask whoever runs amends if you do not have one.";
    document.getElementById("sign-in-name-hint").textContent = "Your name, as it was set up for you. It is shown as the author of your changes.";
  } catch {
    // The token form stays: the server says which it takes when the form is sent.
  }
}

export async function signOut() {
  if (state.unsaved?.() && !confirm("You have unsaved changes to this template. Sign out anyway?")) return;
  try {
    await api("DELETE", "/api/session");
  } catch (err) {
    if (!err.handled) report(err, "Could not sign out");
    return;
  }
  // Only now: a sign-out that failed leaves the editor, and its unsaved-changes warning, as they were.
  state.unsaved = null;
  showSignIn();
  flash("You are signed out.", "info");
}

// Ends every session of the signed-in person: other browsers, and copies of this one's cookie.
export async function signOutEverywhere() {
  if (state.unsaved?.() && !confirm("You have unsaved changes to this template. Sign out anyway?")) return;
  if (!confirm("Sign out on every browser and device where you are signed in, this one included?")) return;
  let ended;
  try {
    ended = (await api("POST", "/api/session/sign-out-everywhere"))?.ended ?? 0;
  } catch (err) {
    if (!err.handled) report(err, "Could not sign out everywhere");
    return;
  }
  state.unsaved = null;
  showSignIn();
  flash(`You are signed out everywhere (${ended === 1 ? "1 session" : `${ended} sessions`} ended).`, "info");
}

export function showConsoleOff() {
  state.user = null;
  state.csrf = null;
  state.unsaved = null;
  state.renderId++;
  updateHeader();
  mount(
    h(
      "section",
      { class: "page panel narrow", id: "console-off" },
      h("h1", {}, "The console is off"),
      h("p", {}, "amends is running, but its console and admin API stay switched off until an admin token is set."),
      h(
        "p",
        {},
        "To switch them on, set ",
        h("code", {}, "AMENDS_ADMIN_TOKEN"),
        " to a long random secret in the environment of amends and restart it. Then come back here and sign in with that token.",
      ),
      h("button", { type: "button", onclick: () => location.reload() }, "Check again"),
    ),
    "Console off",
  );
}
