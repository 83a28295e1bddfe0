-- +goose Up
-- Group scopes of accounts (SPEC §16): the PC groups an account is
-- limited to, as a sorted JSON array ('[]' = not limited). API tokens have
-- had the same column since migration 17. A group named here need not
-- exist: groups exist only through their members.
ALTER TABLE users ADD COLUMN groups_json TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE users DROP COLUMN groups_json;
