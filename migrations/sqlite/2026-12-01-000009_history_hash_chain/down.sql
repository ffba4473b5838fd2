DROP TRIGGER client_history_no_update;
CREATE TRIGGER client_history_no_update BEFORE UPDATE ON client_history
BEGIN
    SELECT RAISE(ABORT, 'client_history is append-only');
END;
ALTER TABLE client_history DROP COLUMN hash;
ALTER TABLE client_history DROP COLUMN reason;
