ALTER TABLE client_history
    ADD CONSTRAINT client_history_client_id_fkey FOREIGN KEY (client_id) REFERENCES clients (id);
