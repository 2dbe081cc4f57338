//! The one edge where argv becomes a POSIX shell command line: quoting for remote shells.
