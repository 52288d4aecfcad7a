"""Xet storage: the content-addressed chunk store that huggingface_hub's default client
(`hf_xet`) uploads to and downloads from (hub-docs `docs/xet/*.md`).

Files are cut into ~64 KiB content-defined chunks, chunks are packed into xorbs (the stored
objects), and a file is a list of chunk ranges in xorbs (its reconstruction). This package
holds the formats, the hashes and the on-disk store; it knows nothing of HTTP (the hub's
`xet_cas` and `xet_repo` modules speak the protocol)."""
