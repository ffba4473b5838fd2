-- The history's hash chain (contract section 9); see the PostgreSQL migration of the same name.
ALTER TABLE client_history ADD COLUMN reason TEXT;
ALTER TABLE client_history ADD COLUMN hash TEXT;

-- Still append-only, with one exception: an entry written before the chain receives its hash,
-- once, and nothing else of it changes.
DROP TRIGGER client_history_no_update;
CREATE TRIGGER client_history_no_update BEFORE UPDATE ON client_history
WHEN NOT (OLD.hash IS NULL AND NEW.hash IS NOT NULL
          AND NEW.client_id IS OLD.client_id AND NEW.version IS OLD.version
          AND NEW.organization_id IS OLD.organization_id AND NEW.recorded_at IS OLD.recorded_at
          AND NEW.actor_key_id IS OLD.actor_key_id AND NEW.actor_name IS OLD.actor_name
          AND NEW.request_id IS OLD.request_id AND NEW.changes IS OLD.changes
          AND NEW.reason IS OLD.reason)
BEGIN
    SELECT RAISE(ABORT, 'client_history is append-only');
END;
