CREATE OR REPLACE FUNCTION client_history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'client_history is append-only';
END;
$$;
ALTER TABLE client_history DROP COLUMN reason, DROP COLUMN hash;
