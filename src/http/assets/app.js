// The amends console: incidents, templates, compensation, escalations and dead
// letters for the communications coordinator. Plain DOM, no framework.
// Everything the API returns is untrusted text: it is only ever put in the page
// with textContent or attributes, and email HTML only inside an empty sandbox.

const main = document.getElementById("main");

const state = {
  user: null,
  csrf: null,
  meta: null, // samples and locales from GET /api/templates
  renderId: 0,
  lastHash: "",
  unsaved: null, // () => boolean, set by a view that holds unsaved work
  unsavedText: null, // () => ({hash, body}), to keep that work across a sign-in
  rescue: null,
  activityQuery: "", // kept in memory only: personal data never goes in the URL
  searchSeq: 0,
  escalationFilter: "open",
  flashTimer: 0,
};

// ---------------------------------------------------------------------------
// Small DOM helpers

function h(tag, props, ...children) {
  const node = document.createElement(tag);
  append(node, children);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value == null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "value") node.value = value;
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else node.setAttribute(key, value === true ? "" : String(value));
  }
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
}

function field(labelText, control, hint) {
  const hintId = hint ? `${control.id}-hint` : null;
  if (hintId) {
    const described = [control.getAttribute("aria-describedby"), hintId].filter(Boolean);
    control.setAttribute("aria-describedby", described.join(" "));
  }
  return h(
    "div",
    { class: "field" },
    h("label", { for: control.id }, labelText),
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    control,
  );
}

function selectBox(id, options, value) {
  const select = h(
    "select",
    { id },
    options.map((o) => h("option", { value: o.value }, o.label)),
  );
  select.value = value;
  return select;
}

function badge(text, tone = "neutral") {
  return h("span", { class: `badge badge-${tone}` }, text);
}

function empty(text) {
  return h("p", { class: "empty" }, text);
}

function loadingText(text = "Loading…") {
  return h("p", { class: "loading" }, text);
}

function facts(rows) {
  const items = rows.filter(([, value]) => value != null && value !== "" && value !== false);
  return h(
    "dl",
    { class: "facts" },
    items.map(([term, value]) => h("div", { class: "fact" }, h("dt", {}, term), h("dd", {}, value))),
  );
}

// columns: [{label, cell(row) -> Node|string, rowHeader?}]
function dataTable({ caption, columns, rows, id, className }) {
  const head = h(
    "thead",
    {},
    h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c.label))),
  );
  const body = h(
    "tbody",
    {},
    rows.map((row) =>
      h(
        "tr",
        {},
        columns.map((c) =>
          h(c.rowHeader ? "th" : "td", { scope: c.rowHeader ? "row" : null, "data-label": c.label }, c.cell(row)),
        ),
      ),
    ),
  );
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { id, class: `data-table ${className ?? ""}`.trim() },
      caption ? h("caption", { class: "visually-hidden" }, caption) : null,
      head,
      body,
    ),
  );
}

function plural(n, word, many = `${word}s`) {
  return `${n} ${n === 1 ? word : many}`;
}

// ---------------------------------------------------------------------------
// Formatting

const shortDateTime = new Intl.DateTimeFormat(undefined, {
  day: "numeric",
  month: "short",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});
const fullDateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short" });

function parseDate(iso) {
  if (!iso) return null;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? null : date;
}

function fmtDate(iso) {
  const date = parseDate(iso);
  return date ? shortDateTime.format(date) : iso ?? "—";
}

function timeEl(iso) {
  const date = parseDate(iso);
  if (!date) return iso ?? "—";
  return h("time", { datetime: iso, title: fullDateTime.format(date) }, shortDateTime.format(date));
}

function fmtDay(day) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day ?? "");
  if (!match) return day ?? "—";
  return dayFormat.format(new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
}

// Money arrives as decimal strings; the code is shown so MXN and USD never look alike.
function money(amount, currency) {
  if (amount == null || amount === "") return "—";
  const value = Number(amount);
  if (!currency || !Number.isFinite(value)) return currency ? `${amount} ${currency}` : String(amount);
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency, currencyDisplay: "code" }).format(value);
  } catch {
    return `${amount} ${currency}`;
  }
}

function fmtBytes(size) {
  if (size == null) return "—";
  if (size < 1024) return plural(size, "byte");
  return `${(size / 1024).toFixed(1)} kB`;
}

function jsonText(value) {
  return JSON.stringify(value, null, 2);
}

function showValue(value) {
  if (value == null) return "—";
  if (value === true) return "Yes";
  if (typeof value === "string" || typeof value === "number") return String(value);
  return JSON.stringify(value);
}

let languageNames = null;
try {
  languageNames = new Intl.DisplayNames(["en"], { type: "language", languageDisplay: "standard" });
} catch {
  languageNames = null;
}

function languageName(locale) {
  if (!locale) return "";
  try {
    return languageNames?.of(locale) ?? locale;
  } catch {
    return locale;
  }
}

function words(slug) {
  const text = String(slug ?? "").replace(/[-_.]+/g, " ").trim();
  const capitalised = text.charAt(0).toUpperCase() + text.slice(1);
  return capitalised.replace(/\bsms\b/gi, "SMS");
}

const EVENT_LABELS = {
  "order.delayed": "Order delayed",
  "order.stockout": "Out of stock",
  "order.cancelled": "Order cancelled",
};

function eventLabel(type) {
  return EVENT_LABELS[type] ?? words(type);
}

const GROUP_LABELS = {
  "order-delayed": "Order delayed",
  "order-cancelled": "Order cancelled",
  "order-stockout": "Out of stock",
  partials: "Shared pieces (partials)",
  layouts: "Layouts",
};

function groupLabel(group) {
  return GROUP_LABELS[group] ?? words(group);
}

function channelLabel(channel) {
  if (channel === "email") return "Email";
  if (channel === "sms") return "SMS";
  return words(channel);
}

// "order-summary.es.txt.hbs" -> "Order summary"
function pieceName(file) {
  return words(String(file ?? "").split(".")[0]);
}

function templateLabel(t) {
  const lang = t.locale ? ` (${languageName(t.locale)})` : "";
  switch (t.kind) {
    case "email":
      return `Email${lang}`;
    case "email_text":
      return `Email text part${lang}`;
    case "sms":
      return `SMS${lang}`;
    case "partial":
      return `${pieceName(t.file)}${lang}`;
    case "partial_text":
      return `${pieceName(t.file)}, text part${lang}`;
    case "layout":
      return `${pieceName(t.file)} layout${lang}`;
    default:
      return `${t.file}${lang}`;
  }
}

const STATUS_LABELS = {
  pending: ["Waiting to send", "info"],
  sending: ["Sending", "info"],
  sent: ["Sent", "ok"],
  failed: ["Failed", "bad"],
  unknown: ["Outcome unknown", "warn"],
  standby: ["Standby", "neutral"],
  cancelled: ["Cancelled", "neutral"],
};

function statusBadge(status) {
  const [label, tone] = STATUS_LABELS[status] ?? [words(status), "neutral"];
  return badge(label, tone);
}

function deliveryTone(status) {
  if (/deliver|open|click/i.test(status)) return "ok";
  if (/bounce|fail|reject|undeliver|complain|drop/i.test(status)) return "bad";
  return "neutral";
}

// Offers come flat from the ledger (amount, currency) and nested from a decision
// (amount: {amount, currency}).
function describeOffer(offer) {
  const nested = offer.amount !== null && typeof offer.amount === "object";
  const o = nested ? { ...offer, amount: offer.amount.amount, currency: offer.amount.currency } : offer;
  switch (o.kind) {
    case "percent_off":
      return `${Number(o.percent)}% off the next order`;
    case "amount_off":
      return `${money(o.amount, o.currency)} off the next order`;
    case "free_shipping":
      return "Free shipping on the next order";
    case "gift_certificate":
      return `Gift certificate of ${money(o.amount, o.currency)}`;
    default:
      return words(o.kind);
  }
}

function incidentHash(id) {
  return `#/incidents/${encodeURIComponent(id)}`;
}

function templateHash(group, file) {
  return `#/templates/${encodeURIComponent(group)}/${encodeURIComponent(file)}`;
}

function templateApi(group, file) {
  return `/api/templates/${encodeURIComponent(group)}/${encodeURIComponent(file)}`;
}

// ---------------------------------------------------------------------------
// Status messages

const toast = document.getElementById("toast");
const statusText = document.getElementById("status");
const statusDismiss = document.getElementById("status-dismiss");

function flash(message, kind = "success") {
  clearTimeout(state.flashTimer);
  toast.dataset.kind = kind;
  toast.classList.add("is-visible");
  statusDismiss.hidden = false;
  statusText.textContent = message;
  if (kind === "success" || kind === "info") {
    state.flashTimer = setTimeout(clearFlash, 15000);
  }
}

function clearFlash() {
  clearTimeout(state.flashTimer);
  statusText.textContent = "";
  toast.classList.remove("is-visible");
  toast.dataset.kind = "";
  statusDismiss.hidden = true;
}

function report(err, context) {
  if (err?.handled) return;
  const message = err?.message ?? String(err);
  flash(context ? `${context}: ${message}` : message, "error");
}

// ---------------------------------------------------------------------------
// API

class ApiError extends Error {
  constructor(status, message, data = null, handled = false) {
    super(message);
    this.status = status;
    this.data = data;
    this.handled = handled;
  }
}

async function readJson(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function errorMessage(response, data) {
  if (data && typeof data.error === "string" && data.error) return data.error;
  if (response.status >= 500) return `Something went wrong on the server (${response.status}). Try again in a moment.`;
  return `The server answered ${response.status}${response.statusText ? ` (${response.statusText})` : ""}.`;
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "Could not reach amends. Check your connection and try again.");
  }
  const data = await readJson(response);
  if (response.ok) return data;
  const message = errorMessage(response, data);
  const signingIn = method === "POST" && path === "/api/session";
  if (response.status === 401 && !signingIn) {
    showSignIn(state.user ? "Your session has ended. Please sign in again." : null);
    throw new ApiError(401, message, data, true);
  }
  if (response.status === 404 && /admin api/i.test(message)) {
    showConsoleOff();
    throw new ApiError(404, message, data, true);
  }
  throw new ApiError(response.status, message, data);
}

async function templatesMeta() {
  if (!state.meta) state.meta = await api("GET", "/api/templates");
  return state.meta;
}

// ---------------------------------------------------------------------------
// Session, header and routing

function setSession(session) {
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

function updateNav(section) {
  for (const link of document.querySelectorAll("#nav a[data-section]")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function mount(node, title, focusTarget) {
  main.replaceChildren(node);
  document.title = `${title} · amends`;
  const target = focusTarget ?? main.querySelector("h1");
  if (target) {
    if (target.tagName === "H1") target.tabIndex = -1;
    target.focus();
  }
}

function parseRoute(hash) {
  const path = hash.replace(/^#\/?/, "").split("?")[0];
  const parts = path.split("/").filter(Boolean).map(decodePart);
  const [first = "activity", ...rest] = parts;
  switch (first) {
    case "activity":
      return { name: "activity", section: "activity" };
    case "incidents":
      return rest[0] ? { name: "incident", section: "activity", id: rest[0] } : { name: "activity", section: "activity" };
    case "messages":
      return ["failed", "unknown"].includes(rest[0])
        ? { name: "attention", section: "activity", status: rest[0] }
        : { name: "notFound", section: null };
    case "templates":
      if (rest.length >= 2) {
        return { name: "editor", section: "templates", group: rest[0], file: rest.slice(1).join("/") };
      }
      return { name: "templates", section: "templates" };
    case "compensation":
      return { name: "compensation", section: "compensation" };
    case "escalations":
      return { name: "escalations", section: "escalations" };
    case "dead-letters":
      return { name: "deadLetters", section: "dead-letters" };
    default:
      return { name: "notFound", section: null };
  }
}

function decodePart(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

const VIEWS = {
  activity: viewActivity,
  incident: viewIncident,
  attention: viewAttention,
  templates: viewTemplates,
  editor: viewEditor,
  compensation: viewCompensation,
  escalations: viewEscalations,
  deadLetters: viewDeadLetters,
  notFound: viewNotFound,
};

async function render() {
  if (!/^#\/./.test(location.hash)) history.replaceState(null, "", "#/activity");
  state.lastHash = location.hash;
  state.unsaved = null;
  state.unsavedText = null;
  const id = ++state.renderId;
  const isCurrent = () => id === state.renderId;
  const route = parseRoute(location.hash);
  updateNav(route.section);
  main.replaceChildren(loadingText());
  try {
    await VIEWS[route.name](route, isCurrent);
  } catch (err) {
    if (isCurrent() && !err.handled) mount(loadError(err), "Problem");
  }
}

function onHashChange() {
  if (!state.user) return;
  if (location.hash === state.lastHash) return;
  if (state.unsaved?.() && !confirm("You have unsaved changes to this template. Leave without saving them?")) {
    // Put the address back without a new render: the editor stays as it is.
    history.replaceState(null, "", state.lastHash);
    return;
  }
  clearFlash();
  render();
}

function loadError(err) {
  return h(
    "section",
    { class: "page panel" },
    h("h1", {}, "This page could not be loaded"),
    h("p", {}, err.message),
    h("button", { type: "button", onclick: () => render() }, "Try again"),
  );
}

function viewNotFound() {
  mount(
    h(
      "section",
      { class: "page panel" },
      h("h1", {}, "Page not found"),
      h("p", {}, "There is nothing at this address. ", h("a", { href: "#/activity" }, "Go to Activity"), "."),
    ),
    "Not found",
  );
}

// ---------------------------------------------------------------------------
// Sign-in, sign-out, console off

function showSignIn(notice) {
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
    if (!name.value.trim() || !token.value) {
      problem.textContent = "Please fill in your name and the admin token.";
      (name.value.trim() ? token : name).focus();
      return;
    }
    button.disabled = true;
    try {
      const session = await api("POST", "/api/session", { name: name.value.trim(), token: token.value });
      setSession(session);
      flash(`Signed in as ${session.user}.`);
      render();
    } catch (err) {
      if (err.handled) return;
      problem.textContent =
        err.status === 401 ? "That admin token was not accepted. Check it and try again." : err.message;
      token.focus();
      token.select();
    } finally {
      button.disabled = false;
    }
  });
  mount(h("div", { class: "page narrow" }, form), "Sign in", name);
}

async function signOut() {
  if (state.unsaved?.() && !confirm("You have unsaved changes to this template. Sign out anyway?")) return;
  state.unsaved = null;
  try {
    await api("DELETE", "/api/session");
  } catch (err) {
    if (!err.handled) report(err, "Could not sign out");
    return;
  }
  showSignIn();
  flash("You are signed out.", "info");
}

function showConsoleOff() {
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

// ---------------------------------------------------------------------------
// Activity

async function viewActivity() {
  const tiles = h("section", { class: "tiles-section", id: "overview", "aria-label": "Today at a glance" }, loadingText());
  const results = h("section", { id: "incident-results", "aria-labelledby": "results-heading" });
  const query = h("input", { id: "search-query", type: "search", autocomplete: "off", value: state.activityQuery });
  const form = h(
    "form",
    { id: "search", class: "search-form", role: "search" },
    field("Find an order or a customer", query, "Order number, customer id, email address or phone number."),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit" }, "Search"),
      h("button", { type: "button", class: "button-quiet", id: "search-clear", onclick: clearSearch }, "Show recent"),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    state.activityQuery = query.value.trim();
    loadIncidents(results, true);
  });
  function clearSearch() {
    query.value = "";
    state.activityQuery = "";
    loadIncidents(results, true);
    query.focus();
  }
  mount(
    h(
      "div",
      { class: "page" },
      h("h1", {}, "Activity"),
      h("p", { class: "lead" }, "Every order that went wrong, what amends decided, and what the customer received."),
      tiles,
      form,
      results,
    ),
    "Activity",
  );
  loadOverview(tiles);
  loadIncidents(results, false);
}

async function loadOverview(tiles) {
  try {
    const o = await api("GET", "/api/overview");
    if (!tiles.isConnected) return;
    tiles.replaceChildren(
      h("h2", { class: "visually-hidden" }, "Today at a glance"),
      h(
        "dl",
        { class: "tiles" },
        tile("Incidents today", o.incidents_today),
        tile("Messages sent today", o.messages_sent_today),
        tile("Messages failed", o.messages_failed, o.messages_failed > 0 ? "bad" : null, null, "#/messages/failed"),
        tile("Outcome unknown", o.messages_unknown, o.messages_unknown > 0 ? "warn" : null,
          o.messages_unknown > 0 ? "Check with the provider before anyone resends." : null, "#/messages/unknown"),
        tile("Open escalations", o.open_escalations, o.open_escalations > 0 ? "warn" : null, null, "#/escalations"),
      ),
    );
  } catch (err) {
    if (err.handled || !tiles.isConnected) return;
    tiles.replaceChildren(h("p", { class: "form-error" }, `Today's numbers could not be loaded: ${err.message}`));
  }
}

// Messages a person should look at: failed for good, or sent with no answer from the provider.
async function viewAttention(route) {
  const unknown = route.status === "unknown";
  const title = unknown ? "Messages with an unknown outcome" : "Messages that failed";
  const lead = unknown
    ? "The provider took these messages but never answered, so nobody knows whether the customer got them. amends does not resend them by itself, to avoid writing twice: check with the provider, then decide."
    : "These messages could not be sent on any provider, for good. Each incident shows every attempt and why it failed.";
  const list = h("div", { id: "attention-list" }, loadingText());
  mount(h("div", { class: "page" }, h("h1", {}, title), h("p", { class: "lead" }, lead), list), title);
  try {
    const data = await api("GET", `/api/messages?status=${route.status}&limit=100`);
    if (!list.isConnected) return;
    const rows = data?.messages ?? [];
    list.replaceChildren(
      rows.length
        ? dataTable({
            caption: `${title}, newest first`,
            id: "attention",
            rows,
            columns: [
              { label: "Incident", rowHeader: true, cell: (m) => h("a", { href: incidentHash(m.incident_id) }, `${eventLabel(m.event_type)} · ${m.order_id}`) },
              { label: "When", cell: (m) => timeEl(m.updated_at) },
              { label: "Channel", cell: (m) => `${channelLabel(m.channel)} to ${m.recipient}` },
              { label: "Provider", cell: (m) => m.provider ?? "—" },
              { label: "Attempts", cell: (m) => m.attempts },
              { label: "What went wrong", cell: (m) => m.last_error ?? "—" },
            ],
          })
        : empty(unknown ? "No message has an unknown outcome." : "No message has failed."),
    );
  } catch (err) {
    if (err.handled || !list.isConnected) return;
    list.replaceChildren(h("p", { class: "form-error" }, `The messages could not be loaded: ${err.message}`));
  }
}

function tile(label, value, tone, hint, href) {
  const term = href ? h("a", { href }, label) : label;
  return h(
    "div",
    { class: `tile${tone ? ` tile-${tone}` : ""}` },
    h("dt", {}, term),
    h("dd", { class: "tile-value" }, value ?? "—"),
    hint ? h("dd", { class: "tile-hint" }, hint) : null,
  );
}

async function loadIncidents(results, announce) {
  const query = state.activityQuery;
  const seq = ++state.searchSeq;
  const heading = h("h2", { id: "results-heading" }, query ? "Search results" : "Recent incidents");
  results.replaceChildren(heading, loadingText());
  try {
    const data = query
      ? await api("POST", "/api/incidents/search", { query, limit: 50 })
      : await api("GET", "/api/incidents?limit=50");
    if (seq !== state.searchSeq || !results.isConnected) return;
    const list = data?.incidents ?? [];
    const none = query
      ? "Nothing found. Check the order number, customer id, email or phone, and try again."
      : "No incidents yet. When an order goes wrong, it shows up here.";
    results.replaceChildren(heading, list.length ? incidentsTable(list) : empty(none));
    if (announce) flash(query ? `${plural(list.length, "incident")} found.` : "Showing recent incidents.", "info");
  } catch (err) {
    if (err.handled || seq !== state.searchSeq || !results.isConnected) return;
    results.replaceChildren(heading, h("p", { class: "form-error" }, `Incidents could not be loaded: ${err.message}`));
  }
}

function incidentsTable(list) {
  return dataTable({
    caption: "Incidents, newest first",
    id: "incidents",
    className: "incidents-table",
    rows: list,
    columns: [
      { label: "What happened", rowHeader: true, cell: (i) => h("a", { href: incidentHash(i.incident_id) }, eventLabel(i.event_type)) },
      { label: "When", cell: (i) => timeEl(i.created_at) },
      { label: "Order", cell: (i) => i.order_id ?? "—" },
      { label: "Customer", cell: customerCell },
      { label: "Decision", cell: decisionCell },
      { label: "Messages", cell: (i) => messagesCell(i.messages) },
    ],
  });
}

function customerCell(i) {
  return h(
    "div",
    { class: "stack" },
    h("span", {}, i.customer_name ?? i.customer_id ?? "—"),
    i.customer_name && i.customer_id ? h("span", { class: "muted" }, i.customer_id) : null,
    i.email ? h("span", { class: "muted contact" }, i.email) : null,
    i.phone ? h("span", { class: "muted contact" }, i.phone) : null,
  );
}

function decisionCell(i) {
  const parts = [
    i.rule ? h("span", {}, i.rule) : null,
    i.escalated ? badge("escalated", "warn") : null,
    i.coalesced ? h("span", { class: "muted" }, `Combined: ${i.coalesced}`) : null,
    i.unreachable ? h("span", { class: "muted" }, `Unreachable: ${i.unreachable}`) : null,
  ].filter(Boolean);
  return parts.length ? h("div", { class: "stack" }, parts) : "—";
}

function messagesCell(messages) {
  if (!messages?.length) return h("span", { class: "muted" }, "None");
  return h(
    "ul",
    { class: "plain" },
    messages.map((m) =>
      h(
        "li",
        {},
        `${channelLabel(m.channel)} `,
        statusBadge(m.status),
        m.delivery_status ? [" ", badge(m.delivery_status, deliveryTone(m.delivery_status))] : null,
      ),
    ),
  );
}

// ---------------------------------------------------------------------------
// Incident detail

async function viewIncident(route, isCurrent) {
  const data = await api("GET", `/api/incidents/${encodeURIComponent(route.id)}`);
  if (!isCurrent()) return;
  const s = data.incident ?? {};
  const title = `${eventLabel(s.event_type)}${s.order_id ? ` · order ${s.order_id}` : ""}`;
  mount(
    h(
      "div",
      { class: "page incident" },
      h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/activity" }, "Activity"), " › Incident"),
      h("h1", {}, title),
      incidentFacts(s),
      decisionSection(data.decision),
      messagesSection(data.messages ?? []),
      compensationSection(data.compensation ?? []),
      escalationSection(data.escalation),
      h(
        "details",
        { class: "event-json" },
        h("summary", {}, "The event as received (JSON)"),
        h("pre", { class: "code" }, jsonText(data.event)),
      ),
    ),
    title,
  );
}

function incidentFacts(s) {
  const flags = [
    s.escalated ? badge("escalated to a person", "warn") : null,
    s.coalesced ? badge(`combined: ${s.coalesced}`, "neutral") : null,
    s.unreachable ? badge(`unreachable: ${s.unreachable}`, "bad") : null,
  ].filter(Boolean);
  return h(
    "section",
    { class: "panel", "aria-label": "Incident" },
    facts([
      ["When", timeEl(s.created_at)],
      ["What happened", eventLabel(s.event_type)],
      ["Order", s.order_id],
      ["Customer", [s.customer_name ?? "", s.customer_name && s.customer_id ? " · " : "", s.customer_id ?? ""].join("") || null],
      ["Email", s.email],
      ["Phone", s.phone],
      ["From", s.source ? `${s.source}${s.event_id ? ` (event ${s.event_id})` : ""}` : null],
      ["Notes", flags.length ? h("span", { class: "badges" }, flags) : null],
    ]),
  );
}

function decisionSection(decision) {
  const section = h("section", { class: "section", "aria-labelledby": "decision-heading" }, h("h2", { id: "decision-heading" }, "Decision"));
  if (!decision) {
    section.append(empty("No decision was recorded for this incident."));
    return section;
  }
  const skipped = Object.entries(decision.skipped ?? {});
  section.append(
    h(
      "div",
      { class: "panel" },
      facts([
        ["Rule that matched", decision.rule ?? "none"],
        ["Template", decision.template],
        ["Channels", (decision.channels ?? []).map(channelLabel).join(", ") || "none"],
        ["Not used", skipped.length ? skipped.map(([channel, why]) => `${channelLabel(channel)}: ${why}`).join("; ") : null],
        ["Send at", decision.send_at ? timeEl(decision.send_at) : null],
        ["Combined with", decision.coalesced ? showValue(decision.coalesced) : null],
        ["Unreachable", decision.unreachable ? showValue(decision.unreachable) : null],
        ["Escalated", decision.escalated ? showValue(decision.escalated) : "No"],
        ["Policy version", decision.policy_version ? decision.policy_version.slice(0, 12) : null],
      ]),
      offersList(decision.offers),
    ),
  );
  if (decision.explanation) section.append(explanationView(decision.explanation));
  return section;
}

function offersList(offers) {
  if (!offers?.length) return h("p", { class: "muted" }, "No offer was part of this decision.");
  return h(
    "div",
    {},
    h("h3", {}, "Offers decided"),
    h(
      "ul",
      { class: "plain" },
      offers.map((o) =>
        h("li", {}, o && typeof o === "object" && o.kind ? describeOffer(o) : h("pre", { class: "code" }, jsonText(o))),
      ),
    ),
  );
}

function explanationView(ex) {
  const rules = ex.rules ?? [];
  const lines = [
    ["How often", ex.frequency],
    ["Offers", listOrNull(ex.offers)],
    ["Fallback", ex.fallback],
    ["Budget", listOrNull(ex.budget)],
    ["Channels", listOrNull(ex.channels)],
    ["Escalation", ex.escalation],
  ];
  return h(
    "div",
    { class: "explanation" },
    h("h3", {}, "Why"),
    h("p", { class: "muted" }, "Rules are checked in order and the first one that matches decides."
      + (ex.policy_version ? ` Policy version ${ex.policy_version.slice(0, 12)}.` : "")),
    rules.length ? h("ol", { class: "rules" }, rules.map(ruleItem)) : empty("No rules were recorded."),
    facts(lines),
  );
}

function listOrNull(items) {
  if (!items?.length) return null;
  return h("ul", { class: "plain" }, items.map((item) => h("li", {}, showValue(item))));
}

function ruleItem(r) {
  const outcome = String(r.outcome ?? "");
  const matched = outcome === "matched";
  const failed = outcome.startsWith("error");
  const label = matched ? "Matched: this rule decided" : failed ? `Could not be checked (${outcome.replace(/^error:\s*/, "")})` : "Did not match";
  const seen = Object.entries(r.seen ?? {});
  return h(
    "li",
    { class: `rule ${matched ? "rule-matched" : failed ? "rule-error" : "rule-skipped"}` },
    h(
      "div",
      { class: "rule-head" },
      h("strong", {}, r.rule),
      " ",
      badge(label, matched ? "ok" : failed ? "bad" : "neutral"),
      r.line != null ? h("span", { class: "muted" }, ` line ${r.line}`) : null,
    ),
    r.condition ? h("code", { class: "condition" }, r.condition) : null,
    seen.length
      ? h(
          "dl",
          { class: "seen" },
          h("div", { class: "visually-hidden" }, "Values seen:"),
          seen.map(([path, value]) =>
            h("div", { class: "seen-item" }, h("dt", {}, h("code", {}, path)), h("dd", {}, h("code", {}, JSON.stringify(value)))),
          ),
        )
      : null,
  );
}

function messagesSection(messages) {
  return section("messages", "Messages",
    messages.length ? messages.map(messageView) : empty("No messages were sent for this incident."),
  );
}

function messageView(m) {
  const headingId = `message-${m.outbox_id}`;
  return h(
    "article",
    { class: "message panel", "aria-labelledby": headingId },
    h(
      "h3",
      { id: headingId },
      `${channelLabel(m.channel)} to ${m.recipient ?? "—"}`,
    ),
    h(
      "p",
      { class: "badges" },
      statusBadge(m.status),
      m.delivery_status ? [" ", badge(m.delivery_status, deliveryTone(m.delivery_status))] : null,
    ),
    m.status === "unknown"
      ? h("p", { class: "notice" }, "amends could not tell whether this was sent. Check with the provider before anyone resends, so the customer does not get it twice.")
      : null,
    facts([
      ["Language", m.locale],
      ["Sent", m.sent_at ? timeEl(m.sent_at) : null],
      ["Provider", m.provider],
      ["Provider reference", m.provider_message_id],
      ["Template texts", m.template_version != null ? `set ${m.template_version.slice(0, 12)}` : "not recorded"],
      ["Attempts", m.attempts],
      ["Backup for", m.standby_for ? `another message (${m.standby_for}); sent only if that one fails` : null],
      ["Last error", m.last_error],
    ]),
    messageContent(m),
    attemptsTable(m.attempt_log ?? []),
    deliveryEventsTable(m.delivery_events ?? []),
  );
}

function messageContent(m) {
  const text = h("pre", { class: "message-text" }, m.body_text ?? "");
  if (m.channel !== "email") return h("div", { class: "message-content" }, h("h4", {}, "Text as sent"), text);
  const subject = h("p", { class: "message-subject" }, h("span", { class: "preview-label" }, "Subject: "), m.subject ?? "—");
  if (m.body_html == null) return h("div", { class: "message-content" }, subject, text);
  const frame = h("iframe", { sandbox: "", title: "The email as sent", class: "email-frame", referrerpolicy: "no-referrer" });
  frame.srcdoc = m.body_html;
  return h("div", { class: "message-content" }, subject, viewToggle(frame, text, "Show the email as"), frame, text);
}

// Two buttons that switch between the designed email and its text part.
function viewToggle(frame, text, label, onChange) {
  const htmlButton = h("button", { type: "button", class: "segment" }, "Designed email");
  const textButton = h("button", { type: "button", class: "segment" }, "Plain text part");
  function show(textPart) {
    frame.hidden = textPart;
    text.hidden = !textPart;
    htmlButton.setAttribute("aria-pressed", String(!textPart));
    textButton.setAttribute("aria-pressed", String(textPart));
    onChange?.(textPart);
  }
  htmlButton.addEventListener("click", () => show(false));
  textButton.addEventListener("click", () => show(true));
  show(false);
  const group = h("div", { class: "segmented", role: "group", "aria-label": label }, htmlButton, textButton);
  group.show = show;
  return group;
}

function attemptsTable(attempts) {
  return h(
    "div",
    { class: "subsection" },
    h("h4", {}, "Attempts"),
    attempts.length
      ? dataTable({
          caption: "Sending attempts",
          className: "compact",
          rows: attempts,
          columns: [
            { label: "Attempt", rowHeader: true, cell: (a) => `#${a.number}` },
            { label: "Provider", cell: (a) => a.provider ?? "—" },
            { label: "Outcome", cell: (a) => a.outcome ?? "—" },
            { label: "Error", cell: (a) => a.error ?? "—" },
            { label: "Started", cell: (a) => timeEl(a.started_at) },
            { label: "Finished", cell: (a) => (a.finished_at ? timeEl(a.finished_at) : "—") },
          ],
        })
      : empty("No attempts yet."),
  );
}

function deliveryEventsTable(events) {
  return h(
    "div",
    { class: "subsection" },
    h("h4", {}, "Reports from the provider"),
    events.length
      ? dataTable({
          caption: "Delivery status reports from the provider",
          className: "compact",
          rows: events,
          columns: [
            { label: "Status", rowHeader: true, cell: (e) => badge(e.status, deliveryTone(e.status)) },
            { label: "Provider", cell: (e) => e.provider ?? "—" },
            { label: "Detail", cell: (e) => e.detail ?? "—" },
            { label: "When", cell: (e) => timeEl(e.occurred_at ?? e.created_at) },
          ],
        })
      : empty("No reports from the provider yet."),
  );
}

// A titled section of a page, labelled by its heading.
function section(id, title, ...content) {
  return h("section", { class: "section", "aria-labelledby": `${id}-heading` }, h("h2", { id: `${id}-heading` }, title), ...content);
}

function compensationSection(offers) {
  return section("compensation", "Compensation",
    offers.length ? offersTable(offers, false) : empty("Nothing was offered for this incident."),
  );
}

function escalationSection(escalation) {
  return section("escalation", "Escalation",
    escalation
      ? escalationCard(escalation, { incidentLink: false, revealContacts: false, heading: "h3", onChanged: () => render() })
      : empty("This incident was not handed to a person."),
  );
}

// ---------------------------------------------------------------------------
// Templates list

const GROUP_ORDER = ["order-delayed", "order-cancelled", "order-stockout"];
const KIND_ORDER = ["email", "email_text", "sms", "layout", "partial", "partial_text"];

function groupRank(group) {
  const index = GROUP_ORDER.indexOf(group);
  if (index >= 0) return index;
  if (group === "partials") return 100;
  if (group === "layouts") return 101;
  return 50;
}

function groupTemplates(templates) {
  const groups = new Map();
  for (const t of templates) {
    if (!groups.has(t.group)) groups.set(t.group, []);
    groups.get(t.group).push(t);
  }
  for (const items of groups.values()) {
    items.sort(
      (a, b) =>
        KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) ||
        String(a.file).localeCompare(String(b.file)) ||
        String(a.locale ?? "").localeCompare(String(b.locale ?? "")),
    );
  }
  return [...groups.entries()].sort(([a], [b]) => groupRank(a) - groupRank(b) || a.localeCompare(b));
}

const GROUP_HINTS = {
  partials: "Pieces that several templates include, such as the greeting or the sign-off. A change here shows up in every template that uses it.",
  layouts: "The frame around every email: the header, the colours and the footer.",
};

async function viewTemplates(route, isCurrent) {
  const data = await api("GET", "/api/templates");
  if (!isCurrent()) return;
  state.meta = data;
  const groups = groupTemplates(data.templates ?? []);
  mount(
    h(
      "div",
      { class: "page" },
      h("h1", {}, "Templates"),
      h("p", { class: "lead" }, "The words customers receive, by what went wrong, channel and language. Open one to edit it and preview it with an example order. Nothing changes for customers until you publish."),
      groups.length ? groups.map(([group, items]) => templateGroup(group, items)) : empty("No templates were found."),
    ),
    "Templates",
  );
}

function templateGroup(group, items) {
  const headingId = `group-${group}`;
  return h(
    "section",
    { class: "template-group", "aria-labelledby": headingId },
    h("h2", { id: headingId }, groupLabel(group)),
    GROUP_HINTS[group] ? h("p", { class: "muted" }, GROUP_HINTS[group]) : null,
    h("ul", { class: "template-list" }, items.map(templateItem)),
  );
}

function templateItem(t) {
  return h(
    "li",
    { class: "template-item" },
    h("a", { href: templateHash(t.group, t.file), class: "template-link" }, templateLabel(t)),
    h("span", { class: "template-file" }, t.file),
    h(
      "span",
      { class: "badges" },
      t.published_version != null ? badge(`edited v${t.published_version}`, "info") : null,
      t.draft_version != null ? badge("draft", "warn") : null,
    ),
    t.updated_at ? h("span", { class: "muted template-updated" }, "changed ", timeEl(t.updated_at)) : null,
  );
}

// ---------------------------------------------------------------------------
// Template editor

function pickLocale(locale, locales) {
  if (!locales.length) return locale ?? "";
  if (!locale) return locales[0];
  return locales.find((l) => l === locale) ?? locales.find((l) => l.startsWith(`${locale}-`)) ?? locales[0];
}

async function viewEditor(route, isCurrent) {
  const [detail, meta] = await Promise.all([api("GET", templateApi(route.group, route.file)), templatesMeta()]);
  if (!isCurrent()) return;
  const ed = createEditor(route, detail, meta);
  mount(ed.node, `${templateLabel(detail)} · ${groupLabel(detail.group)}`);
  state.unsaved = () => ed.source.isConnected && ed.source.value !== ed.saved;
  state.unsavedText = () => ({ hash: state.lastHash, body: ed.source.value });
  restoreRescued(ed);
  updateButtons(ed);
  requestPreview(ed);
}

function restoreRescued(ed) {
  if (!state.rescue || state.rescue.hash !== location.hash) return;
  ed.source.value = state.rescue.body;
  state.rescue = null;
  flash("Your unsaved text was kept. Save it as a draft or publish when you are ready.", "info");
}

function createEditor(route, detail, meta) {
  const ed = {
    base: templateApi(route.group, route.file),
    detail,
    saved: detail.draft ? detail.draft.body : detail.in_force?.body ?? "",
    lastGood: null,
    shown: { message: null, stale: false },
    hasErrors: false,
    busy: false,
    previewSeq: 0,
    timer: 0,
    diagKey: null,
    textPart: false,
  };
  ed.source = h("textarea", {
    id: "template-source",
    class: "code source",
    spellcheck: "false",
    autocapitalize: "off",
    autocomplete: "off",
    autocorrect: "off",
    "aria-describedby": "source-help cursor-position",
    value: ed.saved,
  });
  const samples = meta.samples ?? [];
  const locales = meta.locales ?? [];
  const sampleValues = samples.includes(detail.sample) || !detail.sample ? samples : [detail.sample, ...samples];
  ed.sample = selectBox(
    "preview-sample",
    sampleValues.map((s) => ({ value: s, label: eventLabel(s) })),
    detail.sample ?? samples[0] ?? "",
  );
  ed.locale = selectBox(
    "preview-locale",
    locales.map((l) => ({ value: l, label: languageName(l) === l ? l : `${languageName(l)} (${l})` })),
    pickLocale(detail.locale, locales),
  );
  ed.channel = selectBox(
    "preview-channel",
    [{ value: "email", label: "Email" }, { value: "sms", label: "SMS" }],
    detail.channel === "sms" ? "sms" : "email",
  );
  for (const control of [ed.sample, ed.locale, ed.channel]) {
    control.addEventListener("change", () => schedulePreview(ed, 0));
  }
  ed.source.addEventListener("input", () => {
    updateButtons(ed);
    updateCursor(ed);
    schedulePreview(ed, 400);
  });
  for (const type of ["keyup", "click", "select", "focus"]) ed.source.addEventListener(type, () => updateCursor(ed));

  ed.node = h(
    "div",
    { class: "page wide editor" },
    h(
      "nav",
      { class: "crumbs", "aria-label": "Breadcrumb" },
      h("a", { href: "#/templates" }, "Templates"),
      ` › ${groupLabel(detail.group)}`,
    ),
    h("h1", {}, `${groupLabel(detail.group)}: ${templateLabel(detail)}`),
    h("p", { class: "template-name muted" }, h("code", {}, detail.name)),
    (ed.stateLine = h("div", { class: "template-state", id: "template-state" })),
    h(
      "div",
      { class: "editor-grid" },
      sourcePane(ed),
      previewPane(ed),
    ),
    h("div", { class: "editor-lower" }, historySection(ed), sendTestForm(ed)),
  );
  ed.node.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
      event.preventDefault();
      saveDraft(ed);
    }
  });
  applyDetail(ed, false);
  return ed;
}

function sourcePane(ed) {
  const kind = ed.detail.kind;
  const help =
    kind === "email"
      ? "Handlebars: {{customer.first_name}} puts in a value from the order. The lines between --- at the top set the subject."
      : kind === "sms"
        ? "Handlebars: {{customer.first_name}} puts in a value from the order. Plain text only; keep it short."
        : "Handlebars: {{customer.first_name}} puts in a value from the order.";
  ed.cursor = h("p", { class: "cursor-position muted", id: "cursor-position" }, "Line 1, column 1");
  ed.diag = h("div", { id: "diagnostics", class: "diagnostics" }, h("p", { class: "muted" }, "Checking the text…"));
  ed.note = h("input", { id: "edit-note", type: "text", autocomplete: "off", maxlength: "500" });
  ed.saveBtn = h("button", { type: "button", id: "save-draft", class: "button-secondary", onclick: () => saveDraft(ed) }, "Save draft");
  ed.publishBtn = h("button", { type: "button", id: "publish", onclick: () => publish(ed) }, "Publish");
  ed.discardBtn = h("button", { type: "button", id: "discard-draft", class: "button-quiet button-danger", onclick: () => discardDraft(ed) }, "Discard draft");
  ed.unsavedMark = h("span", { class: "unsaved", id: "unsaved", hidden: true }, "Unsaved changes");
  ed.publishHint = h("p", { class: "hint", id: "publish-hint" });
  ed.publishBtn.setAttribute("aria-describedby", "publish-hint");
  return h(
    "section",
    { class: "editor-source", "aria-labelledby": "source-heading" },
    h("h2", { id: "source-heading", class: "visually-hidden" }, "Edit"),
    h("label", { for: "template-source", class: "source-label" }, "Template text"),
    h("p", { class: "hint", id: "source-help" }, help),
    ed.source,
    ed.cursor,
    h("h3", { class: "diag-heading" }, "Problems"),
    ed.diag,
    h(
      "div",
      { class: "save-box" },
      field("What changed (for the history)", ed.note),
      h("div", { class: "actions" }, ed.saveBtn, ed.publishBtn, ed.discardBtn, ed.unsavedMark),
      ed.publishHint,
    ),
  );
}

function previewPane(ed) {
  const p = {};
  p.subject = h("span", { id: "preview-subject" });
  p.subjectRow = h("p", { class: "preview-subject" }, h("span", { class: "preview-label" }, "Subject: "), p.subject);
  p.frame = h("iframe", { id: "preview-frame", sandbox: "", title: "Email preview", referrerpolicy: "no-referrer", class: "email-frame" });
  p.text = h("pre", { id: "preview-text", class: "message-text preview-text" });
  p.toggle = viewToggle(p.frame, p.text, "Show the email as", (textPart) => {
    ed.textPart = textPart;
  });
  p.smsInfo = h("p", { id: "preview-sms-info", class: "sms-info" });
  p.smsHint = h("p", { class: "hint", id: "preview-sms-hint" });
  p.parts = h("ol", { class: "sms-parts", "aria-label": "How the SMS is split" });
  p.note = h("p", { id: "preview-note", class: "preview-note", hidden: true });
  p.body = h("div", { class: "preview-body" }, p.subjectRow, p.toggle, p.frame, p.text, p.smsInfo, p.smsHint, p.parts);
  p.root = h("div", { id: "preview", class: "preview" }, p.note, p.body);
  p.state = h("p", { id: "preview-state", class: "muted preview-state" });
  ed.previewEls = p;
  showPreview(ed, null, false);
  return h(
    "section",
    { class: "editor-preview", "aria-labelledby": "preview-heading" },
    h("h2", { id: "preview-heading" }, "Preview"),
    h(
      "div",
      { class: "preview-controls" },
      field("Example order", ed.sample),
      field("Language", ed.locale),
      field("Channel", ed.channel),
    ),
    p.state,
    p.root,
  );
}

function schedulePreview(ed, delay) {
  clearTimeout(ed.timer);
  ed.timer = setTimeout(() => requestPreview(ed), delay);
}

async function requestPreview(ed) {
  clearTimeout(ed.timer);
  const seq = ++ed.previewSeq;
  const p = ed.previewEls;
  p.state.textContent = "Updating the preview…";
  const body = {
    body: ed.source.value,
    sample: ed.sample.value,
    locale: ed.locale.value,
    channel: ed.channel.value,
    template: ed.detail.template,
  };
  try {
    const res = await api("POST", `${ed.base}/preview`, body);
    if (seq !== ed.previewSeq || !ed.source.isConnected) return;
    const diagnostics = res?.diagnostics ?? [];
    ed.hasErrors = !res?.ok || diagnostics.some(isError);
    renderDiagnostics(ed, diagnostics);
    if (res?.ok && res.message) {
      ed.lastGood = res.message;
      showPreview(ed, res.message, false);
    } else {
      showPreview(ed, ed.lastGood, true);
    }
    p.state.textContent = "";
    updateButtons(ed);
  } catch (err) {
    if (seq !== ed.previewSeq || !ed.source.isConnected || err.handled) return;
    if (err.data?.diagnostics) {
      ed.hasErrors = err.data.diagnostics.some(isError);
      renderDiagnostics(ed, err.data.diagnostics);
      showPreview(ed, ed.lastGood, true);
      updateButtons(ed);
      p.state.textContent = "";
      return;
    }
    p.state.textContent = `The preview could not be updated: ${err.message}`;
  }
}

function isError(d) {
  return d.severity !== "warning";
}

function showPreview(ed, message, stale) {
  const p = ed.previewEls;
  ed.shown = { message, stale };
  p.root.classList.toggle("is-stale", stale && Boolean(message));
  p.note.hidden = !stale;
  p.note.textContent = stale
    ? message
      ? "The text has errors, so this is the last preview that worked. Fix the problems to see your changes."
      : "No preview yet: fix the problems in the text first."
    : "";
  p.text.textContent = message?.text ?? "";
  p.parts.replaceChildren();
  p.smsHint.textContent = "";
  if (!message) {
    for (const el of [p.subjectRow, p.toggle, p.frame, p.text, p.smsInfo]) el.hidden = true;
    p.smsInfo.textContent = "";
    return;
  }
  if (message.sms) showSmsPreview(p, message);
  else showEmailPreview(ed, p, message);
}

function showSmsPreview(p, message) {
  const sms = message.sms;
  p.subjectRow.hidden = true;
  p.toggle.hidden = true;
  p.frame.hidden = true;
  p.text.hidden = false;
  p.smsInfo.hidden = false;
  p.subject.textContent = "";
  p.smsInfo.textContent = smsSummary(sms);
  if (sms.encoding === "UCS-2") {
    p.smsHint.textContent = "A character outside the basic SMS alphabet makes every part hold 70 characters instead of 160.";
  }
  const parts = sms.parts ?? [];
  if (parts.length > 1) {
    p.parts.replaceChildren(...parts.map((part, i) => h("li", {}, h("span", { class: "muted" }, `Part ${i + 1}: `), part)));
  }
}

function smsSummary(sms) {
  return `${plural(sms.characters, "character")} · ${plural(sms.segments, "segment")} · ${sms.encoding}`;
}

function showEmailPreview(ed, p, message) {
  p.smsInfo.hidden = true;
  p.smsInfo.textContent = "";
  p.subjectRow.hidden = false;
  p.subject.textContent = message.subject ?? "—";
  const hasHtml = message.html != null;
  p.toggle.hidden = !hasHtml;
  if (hasHtml) {
    if (p.frame.srcdoc !== message.html) p.frame.srcdoc = message.html;
    p.toggle.show(ed.textPart);
  } else {
    p.frame.hidden = true;
    p.text.hidden = false;
  }
}

function renderDiagnostics(ed, list) {
  const key = JSON.stringify(list);
  if (key === ed.diagKey) return;
  ed.diagKey = key;
  const errors = list.filter(isError).length;
  const warnings = list.length - errors;
  if (errors) ed.diag.setAttribute("role", "alert");
  else ed.diag.removeAttribute("role");
  ed.diag.classList.toggle("has-errors", errors > 0);
  const summary = errors
    ? `${plural(errors, "error")} to fix before you can publish.`
    : warnings
      ? `No errors, ${plural(warnings, "warning")} worth a look.`
      : "No problems found.";
  ed.diag.replaceChildren(
    h("p", { class: "diag-summary" }, summary),
    list.length ? h("ul", { class: "diag-list" }, list.map((d) => diagnosticItem(ed, d))) : null,
  );
  markSourceErrors(ed, list);
}

// There is no line gutter, so the text box itself shows that it has errors.
function markSourceErrors(ed, list) {
  ed.source.classList.toggle("has-errors", list.some(isError));
}

function diagnosticItem(ed, d) {
  const own = !d.path || d.path === ed.detail.name;
  const text = own
    ? d.line != null
      ? `Line ${d.line}: ${d.message}`
      : d.message
    : `${d.path}${d.line != null ? `, line ${d.line}` : ""}: ${d.message}`;
  const warning = d.severity === "warning";
  const li = h("li", { class: `diag ${warning ? "diag-warning" : "diag-error"}` });
  if (own && d.line != null) {
    li.append(h("button", { type: "button", class: "link-button", onclick: () => selectLine(ed.source, d.line) }, text));
  } else if (!own && d.path.includes("/")) {
    const [group, ...rest] = d.path.split("/");
    li.append(h("a", { href: templateHash(group, rest.join("/")) }, text));
  } else {
    li.append(h("span", {}, text));
  }
  if (warning) li.append(" ", badge("warning", "warn"));
  return li;
}

function selectLine(textarea, line) {
  const lines = textarea.value.split("\n");
  const index = Math.min(Math.max(line, 1), lines.length) - 1;
  let start = 0;
  for (let i = 0; i < index; i += 1) start += lines[i].length + 1;
  const end = start + lines[index].length;
  textarea.focus();
  textarea.setSelectionRange(start, end);
  textarea.scrollTop = Math.max(0, offsetOf(textarea, start) - textarea.clientHeight / 3);
}

// Where a character sits vertically in a wrapping textarea, measured with a mirror element.
function offsetOf(textarea, index) {
  const style = getComputedStyle(textarea);
  const mirror = document.createElement("div");
  for (const prop of [
    "fontFamily", "fontSize", "fontWeight", "lineHeight", "letterSpacing", "tabSize",
    "paddingTop", "paddingRight", "paddingBottom", "paddingLeft",
  ]) {
    mirror.style[prop] = style[prop];
  }
  Object.assign(mirror.style, {
    position: "absolute",
    visibility: "hidden",
    left: "-9999px",
    top: "0",
    boxSizing: "content-box",
    width: `${textarea.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)}px`,
    whiteSpace: "pre-wrap",
    overflowWrap: "break-word",
  });
  mirror.textContent = textarea.value.slice(0, index);
  const marker = document.createElement("span");
  marker.textContent = "\u200b";
  mirror.append(marker);
  document.body.append(mirror);
  const top = marker.offsetTop;
  mirror.remove();
  return top;
}

function updateCursor(ed) {
  const before = ed.source.value.slice(0, ed.source.selectionStart);
  const lines = before.split("\n");
  ed.cursor.textContent = `Line ${lines.length}, column ${lines[lines.length - 1].length + 1}`;
}

function updateButtons(ed) {
  const text = ed.source.value;
  const dirty = text !== ed.saved;
  const sameAsInForce = text === (ed.detail.in_force?.body ?? null);
  ed.unsavedMark.hidden = !dirty;
  ed.saveBtn.disabled = ed.busy;
  ed.discardBtn.hidden = !ed.detail.draft;
  ed.discardBtn.disabled = ed.busy;
  ed.publishBtn.disabled = ed.busy || ed.hasErrors;
  ed.publishHint.textContent = ed.hasErrors
    ? "Fix the errors above before publishing."
    : sameAsInForce
      ? "This is already the text customers get."
      : "Publishing puts this text in force for customers within seconds.";
}

function setBusy(ed, busy) {
  ed.busy = busy;
  updateButtons(ed);
}

function applyDetail(ed, resetText) {
  const d = ed.detail;
  if (resetText) {
    ed.source.value = d.draft ? d.draft.body : d.in_force?.body ?? "";
    ed.saved = ed.source.value;
    schedulePreview(ed, 0);
  }
  ed.stateLine.replaceChildren(...stateLines(d));
  renderHistory(ed);
  updateButtons(ed);
}

function stateLines(d) {
  const inForce = d.in_force?.version ?? null;
  const published = (d.versions ?? []).find((v) => v.version === inForce);
  const lines = [
    inForce == null
      ? h("p", {}, badge("in force", "ok"), " The shipped file is in force.")
      : h(
          "p",
          {},
          badge("in force", "ok"),
          ` Version ${inForce} is in force`,
          published?.author ? `, published by ${published.author}` : "",
          published?.published_at ? [" on ", timeEl(published.published_at)] : "",
          ".",
        ),
  ];
  if (d.draft) {
    lines.push(
      h(
        "p",
        {},
        badge("draft", "warn"),
        ` You are editing draft version ${d.draft.version}`,
        d.draft.author ? `, saved by ${d.draft.author}` : "",
        d.draft.created_at ? [" on ", timeEl(d.draft.created_at)] : "",
        ". Customers do not get it until you publish.",
      ),
    );
  } else {
    lines.push(h("p", { class: "muted" }, "Save a draft to keep your work without changing what customers get. Publish to put it in force."));
  }
  return lines;
}

async function reloadDetail(ed, resetText) {
  const detail = await api("GET", ed.base);
  if (!ed.source.isConnected) return;
  ed.detail = detail;
  applyDetail(ed, resetText);
}

async function saveDraft(ed) {
  if (ed.busy) return;
  const body = ed.source.value;
  setBusy(ed, true);
  try {
    const res = await api("PUT", `${ed.base}/draft`, { body, note: ed.note.value.trim() });
    ed.saved = body;
    const diagnostics = res?.diagnostics ?? [];
    const errors = diagnostics.filter(isError).length;
    if (ed.source.value === body) {
      ed.hasErrors = errors > 0;
      renderDiagnostics(ed, diagnostics);
    }
    await reloadDetail(ed, false);
    flash(
      errors
        ? `Draft saved as version ${res.version}. It has ${plural(errors, "error")} to fix before you can publish.`
        : `Draft saved as version ${res.version}. Customers still get the text in force.`,
      errors ? "warning" : "success",
    );
  } catch (err) {
    report(err, "The draft was not saved");
  } finally {
    setBusy(ed, false);
  }
}

async function publish(ed) {
  if (ed.busy) return;
  const body = ed.source.value;
  setBusy(ed, true);
  try {
    const res = await api("POST", `${ed.base}/publish`, { body, note: ed.note.value.trim() });
    ed.note.value = "";
    ed.saved = body;
    await reloadDetail(ed, true);
    flash(`Published version ${res.version}. Every running replica uses it within seconds.`);
  } catch (err) {
    refused(ed, err, "Not published");
  } finally {
    setBusy(ed, false);
  }
}

// A 422 carries the diagnostics that made the server refuse.
function refused(ed, err, context) {
  if (err.handled) return;
  if (err.status === 422 && Array.isArray(err.data?.diagnostics)) {
    ed.hasErrors = err.data.diagnostics.some(isError);
    renderDiagnostics(ed, err.data.diagnostics);
    flash(err.message, "error");
    return;
  }
  report(err, context);
}

async function discardDraft(ed) {
  if (ed.busy || !ed.detail.draft) return;
  if (!confirm("Discard your draft? The editor goes back to the text in force. This cannot be undone.")) return;
  setBusy(ed, true);
  try {
    await api("DELETE", `${ed.base}/draft`);
    await reloadDetail(ed, true);
    flash("Draft discarded. The editor shows the text in force again.");
  } catch (err) {
    report(err, "The draft was not discarded");
  } finally {
    setBusy(ed, false);
  }
}

async function restoreVersion(ed, version) {
  if (ed.busy) return;
  const dirty = ed.source.value !== ed.saved;
  // Version 0 is the file shipped with amends.
  const what = version === 0 ? "the shipped text" : `version ${version}`;
  const question =
    `Restore ${what}? Its text is published again as a new version, and customers get it within seconds.` +
    (dirty ? " Your unsaved changes in the editor will be lost." : "");
  if (!confirm(question)) return;
  setBusy(ed, true);
  try {
    const note = ed.note.value.trim() || `Restored ${what}`;
    const res = await api("POST", `${ed.base}/rollback`, { version, note });
    ed.note.value = "";
    await reloadDetail(ed, true);
    flash(`${what[0].toUpperCase()}${what.slice(1)} restored as version ${res.version}. Every running replica uses it within seconds.`);
  } catch (err) {
    refused(ed, err, `${what[0].toUpperCase()}${what.slice(1)} was not restored`);
  } finally {
    setBusy(ed, false);
  }
}

function historySection(ed) {
  ed.historyBody = h("div", { class: "history-body" });
  ed.versionView = h("section", { id: "version-view", class: "version-view panel", hidden: true, "aria-labelledby": "version-view-title" });
  return h(
    "section",
    { id: "history", class: "history", "aria-labelledby": "history-heading" },
    h("h2", { id: "history-heading" }, "History"),
    ed.historyBody,
    ed.versionView,
  );
}

function renderHistory(ed) {
  const d = ed.detail;
  const versions = d.versions ?? [];
  const inForce = d.in_force?.version ?? null;
  const parts = [];
  if (inForce == null) parts.push(h("p", { class: "in-force-note" }, "The shipped file is in force."));
  if (versions.length) {
    parts.push(
      dataTable({
        caption: "Versions of this template, newest first",
        id: "history-table",
        className: "history-table",
        rows: versions,
        columns: [
          { label: "Version", rowHeader: true, cell: (v) => `Version ${v.version}` },
          { label: "Status", cell: (v) => versionStatus(v, inForce) },
          { label: "Author", cell: (v) => v.author ?? "—" },
          { label: "When", cell: (v) => timeEl(v.published_at ?? v.created_at) },
          { label: "Note", cell: (v) => v.note || "—" },
          { label: "Actions", cell: (v) => versionActions(ed, v, inForce) },
        ],
      }),
    );
  } else {
    parts.push(h("p", { class: "muted" }, "Nobody has edited this template yet."));
  }
  if (d.shipped != null) {
    parts.push(
      h(
        "p",
        {},
        h(
          "button",
          { type: "button", class: "button-quiet", id: "view-shipped", onclick: () => showVersionText(ed, "The shipped file", d.shipped) },
          "View the shipped file",
        ),
        inForce == null
          ? null
          : h(
              "button",
              { type: "button", class: "button-secondary restore", id: "restore-shipped", "data-version": 0, onclick: () => restoreVersion(ed, 0) },
              "Restore the shipped text",
            ),
      ),
    );
  }
  ed.historyBody.replaceChildren(...parts);
}

function versionStatus(v, inForce) {
  if (v.version === inForce) return badge("in force", "ok");
  if (v.status === "draft") return badge("draft", "warn");
  if (v.status === "published") return badge("published", "info");
  return badge(words(v.status), "neutral");
}

function versionActions(ed, v, inForce) {
  const view = h(
    "button",
    { type: "button", class: "button-quiet", "aria-label": `View version ${v.version}`, onclick: () => viewVersion(ed, v.version) },
    "View",
  );
  const restorable = (v.status === "published" || v.status === "retired") && v.version !== inForce;
  const restore = restorable
    ? h(
        "button",
        {
          type: "button",
          class: "button-secondary restore",
          "data-version": v.version,
          "aria-label": `Restore version ${v.version}`,
          onclick: () => restoreVersion(ed, v.version),
        },
        "Restore",
      )
    : null;
  return h("div", { class: "actions actions-tight" }, view, restore);
}

async function viewVersion(ed, version) {
  try {
    const v = await api("GET", `${ed.base}/versions/${encodeURIComponent(version)}`);
    if (!ed.source.isConnected) return;
    const who = [v.author, v.created_at ? fmtDate(v.created_at) : null].filter(Boolean).join(", ");
    showVersionText(ed, `Version ${v.version} (${v.status})${who ? ` · ${who}` : ""}`, v.body ?? "");
  } catch (err) {
    report(err, `Version ${version} could not be loaded`);
  }
}

function showVersionText(ed, title, body) {
  const heading = h("h3", { id: "version-view-title", tabindex: "-1" }, title);
  const copy = h("button", { type: "button", class: "button-secondary", id: "version-copy" }, "Copy into the editor");
  const close = h("button", { type: "button", class: "button-quiet", id: "version-close" }, "Close");
  copy.addEventListener("click", () => {
    if (ed.source.value !== ed.saved && !confirm("Replace the text in the editor with this one? Your unsaved changes will be lost.")) return;
    ed.source.value = body;
    ed.source.dispatchEvent(new Event("input"));
    ed.source.focus();
    ed.source.setSelectionRange(0, 0);
    flash("Copied into the editor. Save it as a draft or publish it when you are ready.", "info");
  });
  close.addEventListener("click", () => {
    ed.versionView.hidden = true;
    ed.versionView.replaceChildren();
    ed.historyBody.querySelector("button")?.focus();
  });
  ed.versionView.replaceChildren(
    h("div", { class: "version-view-head" }, heading, h("div", { class: "actions actions-tight" }, copy, close)),
    h("p", { class: "muted" }, "Read only. To use this text again, restore the version or copy it into the editor."),
    h("pre", { id: "version-text", class: "code version-text" }, body),
  );
  ed.versionView.hidden = false;
  heading.focus();
}

function sendTestForm(ed) {
  const to = h("input", { id: "test-to", type: "text", autocomplete: "email", required: true, spellcheck: "false" });
  const button = h("button", { type: "submit", class: "button-secondary" }, "Send test");
  const result = h("p", { id: "send-test-result", class: "send-test-result" });
  const form = h(
    "form",
    { id: "send-test", class: "send-test panel", "aria-labelledby": "send-test-heading", novalidate: true },
    h("h2", { id: "send-test-heading" }, "Send a test to me"),
    h(
      "p",
      {},
      "Sends this message with an example order to you. It is marked as a test and never counted as a customer message. ",
      "It uses the text in force, not unsaved changes or a draft: publish first to test your edits. ",
      "The channel and language follow the preview settings.",
    ),
    field("Your email address or phone number", to),
    h("div", { class: "actions" }, button),
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const address = to.value.trim();
    result.textContent = "";
    if (!address) {
      result.textContent = "Please enter your email address or phone number.";
      to.focus();
      return;
    }
    button.disabled = true;
    try {
      const res = await api("POST", "/api/templates/test", {
        template: ed.detail.template,
        channel: ed.channel.value,
        locale: ed.locale.value,
        to: address,
      });
      const where = `Test ${channelLabel(ed.channel.value).toLowerCase() === "sms" ? "SMS" : "email"} sent to ${address} through ${res?.provider ?? "the provider"}${res?.id ? ` (reference ${res.id})` : ""}.`;
      result.textContent = where;
      flash(where);
    } catch (err) {
      if (err.handled) return;
      result.textContent = `The test was not sent: ${err.message}`;
      report(err, "The test was not sent");
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

// ---------------------------------------------------------------------------
// Compensation

async function viewCompensation(route, isCurrent) {
  const data = await api("GET", "/api/compensation?limit=100");
  if (!isCurrent()) return;
  mount(
    h(
      "div",
      { class: "page" },
      h("h1", {}, "Compensation"),
      h("p", { class: "lead" }, "What customers were offered, and how much of the budget it used. Offers are only made within budget; when it runs out, the policy's fallback applies instead."),
      budgetDaysSection(data.budget_days ?? []),
      budgetCustomersSection(data.customers ?? [], data.customer_window),
      ledgerSection(data.offers ?? []),
    ),
    "Compensation",
  );
}

function budgetBar(label, spent, limit, currency) {
  const used = Number(spent);
  const cap = limit != null ? Number(limit) : null;
  const share = cap ? Math.min(100, (used / cap) * 100) : null;
  const tone = share == null ? "none" : share >= 100 ? "full" : share >= 80 ? "high" : "ok";
  const text =
    cap != null
      ? `${money(spent, currency)} of ${money(limit, currency)} (${Math.round((used / cap) * 100) || 0}%)`
      : `${money(spent, currency)} spent · no limit`;
  const fill = h("span", { class: "bar-fill" });
  fill.style.width = `${share ?? 0}%`;
  return h(
    "li",
    { class: `budget-row budget-${tone}` },
    h("span", { class: "budget-label" }, label),
    h("span", { class: "bar", "aria-hidden": "true" }, fill),
    h("span", { class: "budget-text" }, text),
  );
}

function budgetDaysSection(days) {
  return section("budget-days", "Budget per day",
    days.length
      ? h("ul", { class: "budget-list", id: "budget-days" }, days.map((d) => budgetBar(`${fmtDay(d.day)} · ${d.currency}`, d.spent, d.limit, d.currency)))
      : empty("No compensation budget has been used yet."),
  );
}

function windowLabel(window) {
  const days = /^(\d+)\s*days?$/i.exec(window ?? "");
  if (days) return `the last ${plural(Number(days[1]), "day")}`;
  const hours = /^(\d+)\s*h(ours?)?$/i.exec(window ?? "");
  if (hours) return `the last ${plural(Number(hours[1]), "hour")}`;
  return window ? `the window ${window}` : "the current window";
}

function budgetCustomersSection(customers, window) {
  return section("budget-customers", `Per customer, over ${windowLabel(window)}`,
    customers.length
      ? h("ul", { class: "budget-list", id: "budget-customers" }, customers.map((c) => budgetBar(c.customer_id, c.given, c.cap, c.currency)))
      : empty("No customer has received compensation in this window."),
  );
}

function ledgerSection(offers) {
  return section("ledger", "Ledger",
    offers.length ? offersTable(offers, true) : empty("Nothing has been offered yet."),
  );
}

function offersTable(offers, withIncident) {
  const columns = [
    { label: "Offer", rowHeader: true, cell: describeOffer },
    { label: "When", cell: (o) => timeEl(o.created_at) },
    { label: "Status", cell: (o) => badge(o.status === "issued" ? "issued" : "declined", o.status === "issued" ? "ok" : "neutral") },
    { label: "Code", cell: (o) => (o.code ? h("code", {}, o.code) : "—") },
    { label: "Cost", cell: (o) => money(o.cost, o.currency) },
    { label: "Expires", cell: (o) => (o.expires_at ? timeEl(o.expires_at) : "—") },
    { label: "Order", cell: (o) => o.order_id ?? "—" },
    { label: "Customer", cell: (o) => o.customer_id ?? "—" },
    { label: "Rule", cell: (o) => o.rule ?? "—" },
    { label: "Reason", cell: (o) => o.reason ?? "—" },
  ];
  if (withIncident) {
    columns.push({
      label: "Incident",
      cell: (o) =>
        o.incident_id
          ? h("a", { href: incidentHash(o.incident_id), "aria-label": `Open the incident for order ${o.order_id ?? ""}`.trim() }, "Open")
          : "—",
    });
  }
  return dataTable({ caption: "Compensation offers, newest first", id: withIncident ? "ledger" : null, className: "offers-table", rows: offers, columns });
}

// ---------------------------------------------------------------------------
// Escalations

async function viewEscalations(route, isCurrent) {
  const list = h("div", { id: "escalation-list", class: "escalation-list" }, loadingText());
  const filter = h(
    "fieldset",
    { class: "filter" },
    h("legend", {}, "Show"),
    [
      ["open", "Waiting"],
      ["handled", "Handled"],
      ["all", "All"],
    ].map(([value, label]) =>
      h(
        "label",
        { class: "radio" },
        h("input", {
          type: "radio",
          name: "escalation-status",
          id: `escalation-filter-${value}`,
          value,
          checked: state.escalationFilter === value,
          onchange: () => {
            state.escalationFilter = value;
            loadEscalations(list);
          },
        }),
        ` ${label}`,
      ),
    ),
  );
  mount(
    h(
      "div",
      { class: "page" },
      h("h1", {}, "Escalations"),
      h("p", { class: "lead" }, "Customers the policy handed to a person, usually for a call. See what they already received, reach out, then mark it handled with a note."),
      filter,
      list,
    ),
    "Escalations",
  );
  if (isCurrent()) await loadEscalations(list);
}

async function loadEscalations(list) {
  const status = state.escalationFilter;
  list.replaceChildren(loadingText());
  try {
    const data = await api("GET", `/api/escalations?status=${encodeURIComponent(status)}`);
    if (!list.isConnected || status !== state.escalationFilter) return;
    const items = data?.escalations ?? [];
    if (!items.length) {
      const none = {
        open: "No escalations waiting. Nice.",
        handled: "Nothing has been handled yet.",
        all: "No escalations yet.",
      }[status];
      list.replaceChildren(empty(none));
      return;
    }
    list.replaceChildren(
      ...items.map((e) => escalationCard(e, { incidentLink: true, revealContacts: true, onChanged: () => loadEscalations(list) })),
    );
  } catch (err) {
    if (err.handled || !list.isConnected) return;
    list.replaceChildren(h("p", { class: "form-error" }, `Escalations could not be loaded: ${err.message}`));
  }
}

function escalationCard(e, { incidentLink, revealContacts, heading = "h2", onChanged }) {
  const headingId = `escalation-title-${e.escalation_id}`;
  const who = e.customer_name ?? e.customer_id ?? "Customer";
  const contacts = h("div", { class: "contacts" }, contactFacts(e, false));
  const card = h(
    "article",
    { class: `escalation panel escalation-${e.status}`, id: `escalation-${e.escalation_id}`, "aria-labelledby": headingId },
    h(
      heading,
      { id: headingId, class: "escalation-title" },
      `${who}${e.order_id ? ` · order ${e.order_id}` : ""}`,
    ),
    h(
      "p",
      { class: "badges" },
      badge(e.status === "open" ? "waiting" : "handled", e.status === "open" ? "warn" : "ok"),
      " ",
      h("span", { class: "muted" }, "raised ", timeEl(e.created_at)),
    ),
    facts([
      ["Why", e.reason],
      ["Rule", e.rule],
      ["Customer tier", e.tier],
      ["Language", e.locale ? `${languageName(e.locale)} (${e.locale})` : null],
    ]),
    contacts,
    revealContacts ? revealButton(e, contacts) : null,
    receivedList(e.messages ?? []),
    incidentLink && e.incident_id ? h("p", {}, h("a", { href: incidentHash(e.incident_id) }, "See the whole incident")) : null,
    e.status === "open" ? handleForm(e, onChanged) : handledNote(e),
  );
  return card;
}

function contactFacts(e, unmasked) {
  const email = e.email ? (unmasked ? h("a", { href: `mailto:${e.email}` }, e.email) : e.email) : null;
  const phone = e.phone ? (unmasked ? h("a", { href: `tel:${e.phone}` }, e.phone) : e.phone) : null;
  return facts([
    ["Customer", e.customer_name && e.customer_id ? `${e.customer_name} (${e.customer_id})` : e.customer_name ?? e.customer_id],
    ["Email", email],
    ["Phone", phone],
  ]);
}

function revealButton(e, contacts) {
  const button = h("button", { type: "button", class: "button-secondary reveal-contacts" }, "Show contact details");
  button.setAttribute("aria-describedby", `escalation-title-${e.escalation_id}`);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const full = await api("GET", `/api/escalations/${encodeURIComponent(e.escalation_id)}`);
      contacts.replaceChildren(contactFacts(full, true));
      contacts.tabIndex = -1;
      contacts.focus();
      button.remove();
    } catch (err) {
      button.disabled = false;
      report(err, "Contact details could not be loaded");
    }
  });
  return button;
}

function receivedList(messages) {
  return h(
    "div",
    { class: "received" },
    h("h3", {}, "What the customer already received"),
    messages.length
      ? h(
          "ul",
          { class: "plain" },
          messages.map((m) =>
            h(
              "li",
              {},
              `${channelLabel(m.channel)} `,
              statusBadge(m.status),
              m.subject ? [" ", h("span", {}, `“${m.subject}”`)] : null,
            ),
          ),
        )
      : empty("Nothing was sent to the customer: this one is up to you."),
  );
}

function handleForm(e, onChanged) {
  const noteId = `handle-note-${e.escalation_id}`;
  const note = h("textarea", { id: noteId, rows: "3", class: "handle-note" });
  const button = h("button", { type: "submit" }, "Mark handled");
  const form = h(
    "form",
    { class: "handle-form", "aria-label": "Mark handled" },
    field("Note: what you did or agreed with the customer", note),
    h("div", { class: "actions" }, button),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      await api("POST", `/api/escalations/${encodeURIComponent(e.escalation_id)}/handle`, { note: note.value.trim() });
      flash("Marked as handled. Thank you.");
      onChanged();
    } catch (err) {
      button.disabled = false;
      if (err.status === 409) {
        flash("Someone already handled this one.", "warning");
        onChanged();
        return;
      }
      report(err, "Not marked as handled");
    }
  });
  return form;
}

function handledNote(e) {
  return h(
    "div",
    { class: "handled" },
    h("p", {}, "Handled", e.handled_by ? ` by ${e.handled_by}` : "", e.handled_at ? [" on ", timeEl(e.handled_at)] : "", "."),
    e.note ? h("blockquote", { class: "handled-note" }, e.note) : null,
  );
}

// ---------------------------------------------------------------------------
// Dead letters

async function viewDeadLetters(route, isCurrent) {
  const list = h("div", { id: "dead-letter-list" }, loadingText());
  const replayAll = h("button", { type: "button", id: "replay-all", class: "button-secondary", hidden: true }, "Replay all");
  const queue = h("p", { class: "muted", id: "dead-letter-queue" });
  replayAll.addEventListener("click", () => replay(list, replayAll, queue, { all: true }));
  mount(
    h(
      "div",
      { class: "page" },
      h("h1", {}, "Dead letters"),
      h("p", { class: "lead" }, "Order events amends could not process, for example because the order system sent something malformed. Replay sends a message back to be processed again, once the problem has been fixed."),
      queue,
      h("div", { class: "actions" }, replayAll),
      list,
    ),
    "Dead letters",
  );
  if (isCurrent()) await loadDeadLetters(list, replayAll, queue);
}

async function loadDeadLetters(list, replayAll, queue) {
  try {
    const data = await api("GET", "/api/dead-letters?limit=100");
    if (!list.isConnected) return;
    const letters = data?.dead_letters ?? [];
    queue.textContent = data?.queue ? `Queue: ${data.queue}` : "";
    replayAll.hidden = letters.length === 0;
    replayAll.dataset.count = String(letters.length);
    list.replaceChildren(
      letters.length
        ? dataTable({
            caption: "Messages waiting in the dead-letter queue",
            id: "dead-letters",
            rows: letters,
            columns: [
              { label: "Message", rowHeader: true, cell: (d) => (d.id ? h("code", {}, d.id) : h("span", { class: "muted" }, "no id")) },
              { label: "Routing key", cell: (d) => d.routing_key ?? "—" },
              { label: "What went wrong", cell: (d) => d.error ?? "—" },
              { label: "Size", cell: (d) => fmtBytes(d.size) },
              {
                label: "Action",
                cell: (d) =>
                  d.id
                    ? h(
                        "button",
                        {
                          type: "button",
                          class: "button-quiet",
                          "aria-label": `Replay message ${d.id}`,
                          onclick: () => replay(list, replayAll, queue, { id: d.id }),
                        },
                        "Replay",
                      )
                    : h("span", { class: "muted" }, "Only with Replay all"),
              },
            ],
          })
        : empty("The dead-letter queue is empty. Nothing to fix."),
    );
  } catch (err) {
    if (err.handled || !list.isConnected) return;
    list.replaceChildren(h("p", { class: "form-error" }, `Dead letters could not be loaded: ${err.message}`));
  }
}

async function replay(list, replayAll, queue, body) {
  if (body.all) {
    const count = Number(replayAll.dataset.count ?? 0);
    const question = `Send all ${plural(count, "message")} back to be processed again? Do this only after the problem was fixed, or they come straight back here.`;
    if (!confirm(question)) return;
  }
  replayAll.disabled = true;
  try {
    const res = await api("POST", "/api/dead-letters/replay", body);
    flash(`${plural(res?.replayed ?? 0, "message")} sent back to be processed again.`);
    await loadDeadLetters(list, replayAll, queue);
  } catch (err) {
    report(err, "Nothing was replayed");
  } finally {
    replayAll.disabled = false;
  }
}

// ---------------------------------------------------------------------------
// Start

function wireChrome() {
  document.getElementById("sign-out").addEventListener("click", signOut);
  statusDismiss.addEventListener("click", clearFlash);
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
