"""What every object-store destination shares (S3, Azure, GCS): metadata, reading, errors, listing.

Each store's package keeps only what its client and its API need; the encoding of names as keys
is `fsreplica._names`. The stores reached through obstore (S3, Azure) share more: the whole
contract (`obstore_base`), its listing with HEADs (`listing`), the metadata cache (`cache`),
multipart uploads (`multipart`) and the client's HTTP and retry settings (`client`).
"""
