-- A certificate is renewed once, to one key (the public point in hex):
-- a stolen certificate cannot mint a chain of others, and an agent that
-- lost the answer asks again for the same key.
ALTER TABLE agent_certs ADD COLUMN renewal_key TEXT;
