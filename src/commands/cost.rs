//! `kamal-dev cost`: hourly and monthly cost of the configured fleet and of what runs now.

use clap::Args as ClapArgs;

use super::Context;
use crate::error::{Error, ExitStatus};

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Output format
    #[arg(long, value_enum, default_value_t = CostFormat::Table)]
    pub format: CostFormat,
}

pub async fn run(ctx: &Context, args: Args) -> Result<ExitStatus, Error> {
    let _settings = ctx.settings()?;
    let _ = args.format;
    Err(Error::not_implemented("cost"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CostFormat {
    Table,
    Json,
}
