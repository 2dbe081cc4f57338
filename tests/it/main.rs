//! The one integration-test binary: each module drives the real `kamal-dev` binary the way a
//! user would. Shared helpers live in `common/`.

mod cli;
mod common;
mod config_errors;
mod conformance;
mod cost;
mod e2e;
mod e2e_providers;
mod hetzner;
mod hetzner_cost;
mod hetzner_openapi;
mod hetzner_schema;
mod interrupt;
mod remote;
mod secrets_dry_run;
mod state;
mod upcloud;
mod upcloud_cassette;
mod upcloud_replay;
mod workspace_access;
