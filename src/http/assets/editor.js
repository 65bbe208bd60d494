// The template editor: its page, the text, and saving, publishing, discarding and restoring it.

import { api, templatesMeta } from "./api.js";
import { isError, renderDiagnostics } from "./diagnostics.js";
import { badge, field, h, selectBox } from "./dom.js";
import { eventLabel, groupLabel, languageName, plural, templateLabel, timeEl } from "./format.js";
import { historySection, renderHistory } from "./history.js";
import { mount } from "./page.js";
import { previewPane, showPreview } from "./preview.js";
import { sendTestForm } from "./send-test.js";
import { state } from "./state.js";
import { flash, report } from "./toast.js";

function templateApi(group, file) {
  return `/api/templates/${encodeURIComponent(group)}/${encodeURIComponent(file)}`;
}

function pickLocale(locale, locales) {
  if (!locales.length) return locale ?? "";
  if (!locale) return locales[0];
  return locales.find((l) => l === locale) ?? locales.find((l) => l.startsWith(`${locale}-`)) ?? locales[0];
}

export async function viewEditor(route, isCurrent) {
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

function schedulePreview(ed, delay) {
  clearTimeout(ed.timer);
  ed.timer = setTimeout(() => requestPreview(ed), delay);
}

// The preview is asked for here, not in preview.js: its answer also decides what may be published.
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
  renderHistory(ed, (version) => restoreVersion(ed, version));
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
    const res = await api("POST", `${ed.base}/publish`, { body, note: ed.note.value.trim(), based_on: basedOn(ed) });
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

// The version in force when this page loaded it (0: the shipped file): the server refuses to
// publish over a version someone else published since.
function basedOn(ed) {
  return ed.detail.in_force?.version ?? 0;
}

// A 422 carries the diagnostics that made the server refuse; a 409 says someone else published
// first, and the text stays in the editor while the history shows what they did.
function refused(ed, err, context) {
  if (err.handled) return;
  if (err.status === 409) {
    flash(`${context}: someone else published this template since you opened it. Your text is still here; see the history for what changed, then publish again if yours should replace it.`, "error");
    reloadDetail(ed, false).catch((e) => report(e, "The history could not be refreshed"));
    return;
  }
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
    const res = await api("POST", `${ed.base}/rollback`, { version, note, based_on: basedOn(ed) });
    ed.note.value = "";
    await reloadDetail(ed, true);
    flash(`${what[0].toUpperCase()}${what.slice(1)} restored as version ${res.version}. Every running replica uses it within seconds.`);
  } catch (err) {
    refused(ed, err, `${what[0].toUpperCase()}${what.slice(1)} was not restored`);
  } finally {
    setBusy(ed, false);
  }
}
