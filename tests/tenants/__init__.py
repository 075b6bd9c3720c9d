"""Tests of provisioning, the two Alembic trees and migrate-all."""
