"""Versioned, append-only golden datasets on disk: records, manifests, exports."""
