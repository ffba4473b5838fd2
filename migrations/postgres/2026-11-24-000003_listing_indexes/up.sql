-- Listing pages through one organization's clients in id order (UUID v7, so registration order).
-- Each index leads with organization_id and ends with id, so a filtered page is an index range
-- scan already in the listing's order: no sort, and the scan stops after limit + offset rows.
CREATE INDEX clients_org_id_idx ON clients (organization_id, id);
CREATE INDEX clients_org_kyc_status_idx ON clients (organization_id, kyc_status, id);
CREATE INDEX clients_org_risk_level_idx ON clients (organization_id, risk_level, id);
CREATE INDEX clients_org_blacklisted_idx ON clients (organization_id, is_blacklisted, id);
CREATE INDEX clients_org_blocked_idx ON clients (organization_id, blocked, id);
-- Combined filters use the most selective of these and check the rest on the rows it yields.
