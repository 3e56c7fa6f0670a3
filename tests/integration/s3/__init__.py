"""S3 destination tests against moto and Ceph RGW."""
