-- Console sessions kept on the server, so that signing out, removing a person or changing their
-- password ends them on every replica, and an audit record of who did what in the console and
-- the admin API.

-- One row per sign-in. The cookie carries a random id; only its SHA-256 hash is stored, so a copy
-- of this table signs no one in. `fingerprint` is a hash of the person's configured entry (their
-- AMENDS_ADMIN_USERS line, or the admin token they signed in with): when it no longer matches
-- the configuration, the session is refused. Times are the daemon's clock.
create table admin_session (
    id_hash      bytea       not null,
    person       text        not null,
    fingerprint  text        not null,
    created_at   timestamptz not null,
    last_seen_at timestamptz not null,
    expires_at   timestamptz not null,
    revoked_at   timestamptz,
    constraint admin_session_pkey primary key (id_hash)
);
-- "Sign out everywhere" finds a person's sessions in force.
create index admin_session_person_idx on admin_session (lower(person)) where revoked_at is null;
-- Ended sessions are deleted by their end time.
create index admin_session_expires_idx on admin_session (expires_at);

-- Who did what, newest first. `subject` names the thing acted on (a template file, an
-- escalation id, a masked contact), never a contact in full; `detail` says more, with contacts
-- masked likewise. `client_address` is where the request came from.
create table audit (
    id             bigint      generated always as identity,
    actor          text        not null,
    action         text        not null,
    subject        text,
    detail         jsonb       not null default '{}'::jsonb,
    client_address text,
    created_at     timestamptz not null default now(),
    constraint audit_pkey primary key (id)
);
create index audit_created_idx on audit (created_at desc, id desc);
create index audit_actor_idx on audit (lower(actor), created_at desc);
create index audit_action_idx on audit (action, created_at desc);
