//! Pure: container spec -> docker argv for build/run/exec/inspect/stop/rm. No I/O.
