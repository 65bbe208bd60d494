-- Whether sqlx's migrations table exists: a database no amends has migrated has none.
select to_regclass('_sqlx_migrations') is not null
