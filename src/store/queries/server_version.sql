-- The PostgreSQL server's version, as it reports it.
show server_version
