// The console's shared mutable state: the session, and what views keep between visits.

export const state = {
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
  watchFilter: "open", // the Watch page's state filter
};
