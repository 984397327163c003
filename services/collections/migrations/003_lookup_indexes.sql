-- A debt's notices and placements are looked up by debt (GET /v1/debts/{id}); without these the
-- lookup scans every notice ever issued.
CREATE INDEX notice_deliveries_by_debt ON notice_deliveries (debt_id);
CREATE INDEX placements_by_debt ON placements (debt_id);
