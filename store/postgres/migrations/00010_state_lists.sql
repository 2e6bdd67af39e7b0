-- +goose Up
-- A list filtered by state reads that state's rows of the organization in
-- order; without this it walks every row of the organization, which for a
-- rare state is most of them to fill one page.
CREATE INDEX invitations_org_state_created ON invitations(org_id, state, created_at, number);

-- +goose Down
DROP INDEX invitations_org_state_created;
