"""One module per CLI verb; see ``hermetic.cli`` for the contract."""
