"""Disclosures of Part 2 information: records, the 2.32 notice, exports and the accounting."""
