//! The one integration-test binary: each module drives the real `kamal-dev` binary the way a
//! user would. Shared helpers live in `common/`.

mod common;
mod config_errors;
mod conformance;
