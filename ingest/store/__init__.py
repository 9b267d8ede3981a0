"""The index format: vector and keyword backends, the manifest, and atomic versioned publishing."""
