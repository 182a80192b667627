use clap::Parser;

use kdeck::cli::Cli;
use kdeck::error::ExitCode;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(ExitCode::Failure.code());
        }
    };
    match runtime.block_on(cli.run()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            if !err.message.is_empty() {
                eprintln!("error: {}", err.message);
            }
            for hint in &err.hints {
                eprintln!("  hint: {hint}");
            }
            std::process::ExitCode::from(err.code.code())
        }
    }
}
