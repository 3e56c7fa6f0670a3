"""What every object-store destination shares (S3, GCS): metadata, reading, errors, listing.

Each store's package keeps only what its client and its API need; the encoding of names as keys
is `fsreplica._names`.
"""
