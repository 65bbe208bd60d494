// Talking to the admin API: api(), its errors, the CSRF token, and the cached template metadata.

import { state } from "./state.js";

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

// Where to go when the server turns a request away. app.js points these at the sign-in and
// console-off pages, so this module needs none of the views.
const turnedAway = { signIn: () => {}, consoleOff: () => {} };

export function whenTurnedAway(handlers) {
  Object.assign(turnedAway, handlers);
}

export async function api(method, path, body) {
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
    turnedAway.signIn(state.user ? "Your session has ended. Please sign in again." : null);
    throw new ApiError(401, message, data, true);
  }
  if (response.status === 404 && /admin api/i.test(message)) {
    turnedAway.consoleOff();
    throw new ApiError(404, message, data, true);
  }
  throw new ApiError(response.status, message, data);
}

export async function templatesMeta() {
  if (!state.meta) state.meta = await api("GET", "/api/templates");
  return state.meta;
}
