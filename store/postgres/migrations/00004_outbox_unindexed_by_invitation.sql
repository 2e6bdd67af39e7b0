-- The jobs of a finished or resent invitation are no longer deleted with
-- it: the mail worker drops them unsent when it meets them. So nothing looks
-- jobs up by invitation any more, and the index that served that was one
-- more page written by every create.

-- +goose Up
DROP INDEX outbox_invitation;

-- +goose Down
CREATE INDEX outbox_invitation ON outbox(invitation_id);
