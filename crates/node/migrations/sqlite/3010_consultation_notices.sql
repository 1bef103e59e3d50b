-- A notice about a consultation on a hit (signaalnet_node::consult) names it: a notice that
-- signals left the hit replaces the hit's earlier notices, but not its consultation notices
-- while the hit lasts for this partner.
ALTER TABLE node_hits ADD COLUMN consultation_id TEXT;
