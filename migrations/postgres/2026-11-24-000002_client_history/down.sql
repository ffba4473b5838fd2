DROP TABLE client_history;
DROP FUNCTION client_history_is_append_only();
