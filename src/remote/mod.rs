//! Executing argv on a machine: over SSH (russh) or as a local process, with bounded fan-out. Knows nothing about clouds.
