//! The `kamal-dev` binary: builds the async runtime and hands over to the library.
//! Nothing else lives here, so the whole tool stays testable as a library.

use std::process::ExitCode;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: could not start the async runtime: {err}");
            return ExitCode::from(1);
        }
    };
    let status = runtime.block_on(kamal_dev::run(std::env::args_os().collect()));
    ExitCode::from(status.code())
}
