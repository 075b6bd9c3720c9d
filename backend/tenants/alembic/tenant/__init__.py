"""The tenant tree: tables of one clinic schema; revisions never name a schema."""
