-- Template texts edited without a deploy: every version of every template file, with who wrote
-- it, when and why. The files shipped in templates/ are the starting point; a published version
-- of a file takes its place on every replica (they listen on the channel amends_templates).
-- At most one version of a file is published; publishing another (or an older one again, to roll
-- back) retires it. Nothing is ever deleted: the history is the audit trail.
create table template_edit (
    template_edit_id bigint generated always as identity primary key,
    name             text not null,
    version          integer not null,
    body             text not null,
    status           text not null,
    author           text not null,
    note             text,
    published_at     timestamptz,
    created_at       timestamptz not null default now(),
    constraint template_edit_name_version_key unique (name, version),
    constraint template_edit_status_check check (status in ('draft', 'published', 'retired'))
);

create unique index template_edit_published_key on template_edit (name) where status = 'published';
