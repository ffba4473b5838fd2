DROP TABLE client_history;
