-- The history's hash chain (contract section 9): each entry's hash covers the previous entry's
-- hash and the entry's canonical content (docs/API-DESIGN.md), including the reason a status
-- change gives. Entries written before this migration get their hashes when the server starts,
-- in version order, by the same code that hashes new entries (the encoding is defined once, in
-- the domain crate; SQLite has no SHA-256 to do it in SQL).
ALTER TABLE client_history ADD COLUMN reason TEXT, ADD COLUMN hash TEXT;

-- Still append-only, with one exception: an entry written before the chain receives its hash,
-- once, and nothing else of it changes.
CREATE OR REPLACE FUNCTION client_history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND NEW.hash IS NOT NULL
       AND (NEW.client_id, NEW.version, NEW.organization_id, NEW.recorded_at, NEW.actor_key_id,
            NEW.actor_name, NEW.request_id, NEW.changes, NEW.reason)
           IS NOT DISTINCT FROM
           (OLD.client_id, OLD.version, OLD.organization_id, OLD.recorded_at, OLD.actor_key_id,
            OLD.actor_name, OLD.request_id, OLD.changes, OLD.reason) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'client_history is append-only';
END;
$$;
