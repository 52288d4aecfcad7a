"""HTTP: one module per wire format (HF Inference, OpenAI, TEI) and the app factory."""
