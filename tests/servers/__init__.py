"""Real servers for the S3 tests: moto's in-process server and a single-node Ceph RGW."""
