"""Azure Blob Storage destination tests against Azurite."""
