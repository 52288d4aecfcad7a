"""embedhub: self-hosted embeddings as a service."""

__version__ = "0.1.0"
