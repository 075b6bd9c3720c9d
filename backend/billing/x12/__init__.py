"""X12 5010 claim files: envelopes, the 837P and 837I writers, and the checks every file passes."""
