// The console's entry point: wires the views, the session and the page chrome together, then starts.
// The amends console shows incidents, templates, compensation, escalations, the watch on
// promised delivery dates, dead letters, suppressions and the audit record to the
// communications coordinator. Plain DOM, no framework.
// Everything the API returns is untrusted text: it is only ever put in the page
// with textContent or attributes, and email HTML only inside an empty sandbox.

import { viewActivity, viewAttention } from "./activity.js";
import { api, whenTurnedAway } from "./api.js";
import { viewAudit } from "./audit.js";
import { viewCompensation } from "./compensation.js";
import { viewDeadLetters } from "./dead-letters.js";
import { viewEditor } from "./editor.js";
import { viewEscalations } from "./escalations.js";
import { viewIncident } from "./incident.js";
import { main, mount } from "./page.js";
import { loadError, onHashChange, render, setViews, viewNotFound } from "./router.js";
import { setSession, showConsoleOff, showSignIn, signOut, signOutEverywhere } from "./session.js";
import { state } from "./state.js";
import { viewSuppressions } from "./suppressions.js";
import { viewTemplates } from "./templates.js";
import { clearFlash } from "./toast.js";
import { viewWatch } from "./watch.js";

setViews({
  activity: viewActivity,
  incident: viewIncident,
  attention: viewAttention,
  templates: viewTemplates,
  editor: viewEditor,
  compensation: viewCompensation,
  escalations: viewEscalations,
  watch: viewWatch,
  deadLetters: viewDeadLetters,
  suppressions: viewSuppressions,
  audit: viewAudit,
  notFound: viewNotFound,
});
whenTurnedAway({ signIn: showSignIn, consoleOff: showConsoleOff });

function wireChrome() {
  document.getElementById("sign-out").addEventListener("click", signOut);
  document.getElementById("sign-out-everywhere").addEventListener("click", signOutEverywhere);
  document.getElementById("status-dismiss").addEventListener("click", clearFlash);
  document.getElementById("skip-link").addEventListener("click", (event) => {
    event.preventDefault(); // the hash belongs to the router
    main.focus();
  });
  window.addEventListener("hashchange", onHashChange);
  window.addEventListener("beforeunload", (event) => {
    if (state.unsaved?.()) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
}

async function boot() {
  wireChrome();
  try {
    const session = await api("GET", "/api/session");
    setSession(session);
    render();
  } catch (err) {
    if (err.handled) return;
    mount(loadError(err), "Problem");
  }
}

boot();
