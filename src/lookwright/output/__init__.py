"""Writing generated files: manifests, atomic writes, forked workers, and the generate pipeline."""
