-- The family summaries page through a family in company order. Open
-- accounts only, so the order and the count of a family come from the index
-- alone (closed accounts are never listed). Balances are not in it: their
-- frequent updates stay HOT.
CREATE INDEX accounts_family_open ON accounts (parent_id, lower(company_name), id) WHERE status <> 'closed';

-- The family rollups count closed accounts too; the summaries subtract
-- those few accounts' rows, found here without reading the family.
CREATE INDEX accounts_family_closed ON accounts ((coalesce(parent_id, id))) WHERE status = 'closed';
