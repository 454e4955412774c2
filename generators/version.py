"""Generator version: bump whenever any family, filter, prompt or trace changes its output, because
records (and the frozen suites' checksums) are only reproducible for the same version."""
GENERATOR_VERSION = "1.1.0"
