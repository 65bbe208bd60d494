-- Records one action of a person (or the API's bearer token) in the console or the admin API.
insert into audit (actor, action, subject, detail, client_address)
values ($1, $2, $3, $4, $5)
