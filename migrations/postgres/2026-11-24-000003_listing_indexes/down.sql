DROP INDEX clients_org_blocked_idx;
DROP INDEX clients_org_blacklisted_idx;
DROP INDEX clients_org_risk_level_idx;
DROP INDEX clients_org_kyc_status_idx;
DROP INDEX clients_org_id_idx;
