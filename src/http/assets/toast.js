// The status message at the foot of the page: flash(), clearFlash() and report().

const toast = document.getElementById("toast");
const statusText = document.getElementById("status");
const statusDismiss = document.getElementById("status-dismiss");

// The pending hiding of a success or info message, so that a newer message is not cut short.
let timer = 0;

export function flash(message, kind = "success") {
  clearTimeout(timer);
  toast.dataset.kind = kind;
  toast.classList.add("is-visible");
  statusDismiss.hidden = false;
  statusText.textContent = message;
  if (kind === "success" || kind === "info") {
    timer = setTimeout(clearFlash, 15000);
  }
}

export function clearFlash() {
  clearTimeout(timer);
  statusText.textContent = "";
  toast.classList.remove("is-visible");
  toast.dataset.kind = "";
  statusDismiss.hidden = true;
}

export function report(err, context) {
  if (err?.handled) return;
  const message = err?.message ?? String(err);
  flash(context ? `${context}: ${message}` : message, "error");
}
