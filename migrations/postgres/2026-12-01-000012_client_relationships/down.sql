DROP TABLE client_relationships;
