-- Whether an auction's bids must be signed (auction.create's `signed_bids`, a
-- tender_auction's `auction.signed_bids`; docs/protocol.md). The created change's body
-- says so too ("signed_bids":false) when they need not be.
ALTER TABLE auctions ADD COLUMN signed_bids boolean NOT NULL DEFAULT true;
GRANT UPDATE (signed_bids) ON auctions TO tenderd;
