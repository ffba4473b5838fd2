-- Registration entries recorded `organization_id` as a string ("1"); the API shows the integer
-- 1. The entries are JSON text written by the server, member order field, old, new, so the
-- string form is rewritten in place; nothing else in the text changes.
UPDATE client_history
SET changes = regexp_replace(
    changes,
    '\{"field":"organization_id","old":null,"new":"(-?[0-9]+)"\}',
    '{"field":"organization_id","old":null,"new":\1}')
WHERE version = 1 AND changes LIKE '%"field":"organization_id","old":null,"new":"%';
