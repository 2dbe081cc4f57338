//! devcontainer.json engine: JSONC parsing, the property model, variable substitution, image metadata merge, discovery and local Features. Pure apart from reading the files it is pointed at.
