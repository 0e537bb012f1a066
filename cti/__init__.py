"""CTI core: AMI connection, AMI-to-domain translation, call tracker, trace replay."""
