UPDATE client_history
SET changes = regexp_replace(
    changes,
    '\{"field":"organization_id","old":null,"new":(-?[0-9]+)\}',
    '{"field":"organization_id","old":null,"new":"\1"}')
WHERE version = 1;
