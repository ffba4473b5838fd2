UPDATE client_history
SET changes = (
    SELECT json_group_array(
        CASE WHEN json_extract(entry.value, '$.field') = 'organization_id'
             THEN json_set(entry.value, '$.new', CAST(json_extract(entry.value, '$.new') AS TEXT))
             ELSE json(entry.value)
        END)
    FROM json_each(client_history.changes) AS entry
)
WHERE version = 1;
