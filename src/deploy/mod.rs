//! The deploy workflow: plan (pure) -> apply (effects) -> events. The only module that knows
//! the order of steps; it never prints (events go to a reporter owned by the command).

pub mod access;
pub mod apply;
pub mod build;
pub mod container;
pub mod events;
pub mod fleet;
pub mod manage;
pub mod plan;
pub mod rebuild;
pub mod source;
