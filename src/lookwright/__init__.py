"""lookwright: one YAML semantic model -> LookML + warehouse SQL, built, deployed and verified."""

__version__ = "0.1.0"
