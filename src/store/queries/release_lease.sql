-- Gives lease $1 up, if holder $2 has it, so another replica need not wait for it to run out.
delete from lease where name = $1 and holder = $2
