"""42 CFR Part 2: labelling, consents, segmentation (Casbin + SQL) and break-the-glass access."""
