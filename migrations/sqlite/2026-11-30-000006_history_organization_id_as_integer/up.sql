-- Registration entries recorded `organization_id` as a string ("1"); the API shows the integer
-- 1. SQLite's JSON functions keep member order and write compact JSON, as the server does.
UPDATE client_history
SET changes = (
    SELECT json_group_array(
        CASE WHEN json_extract(entry.value, '$.field') = 'organization_id'
                  AND json_type(entry.value, '$.new') = 'text'
             THEN json_set(entry.value, '$.new', CAST(json_extract(entry.value, '$.new') AS INTEGER))
             ELSE json(entry.value)
        END)
    FROM json_each(client_history.changes) AS entry
)
WHERE version = 1 AND changes LIKE '%"field":"organization_id","old":null,"new":"%';
