-- The IP addresses an agent reports in its heartbeats (a JSON array of
-- canonical addresses), carried by its findings as asset attributes.
ALTER TABLE agents ADD COLUMN addresses TEXT NOT NULL DEFAULT '[]';
