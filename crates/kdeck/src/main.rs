use clap::{CommandFactory, FromArgMatches, Parser};

use kdeck::cli::Cli;
use kdeck::error::ExitCode;

/// Installed as `kubectl-deck`, kdeck is the kubectl plugin `kubectl deck …`.
fn invoked_as_kubectl_plugin() -> bool {
    std::env::args_os().next().is_some_and(|arg0| std::path::Path::new(&arg0).file_name().is_some_and(|name| name == "kubectl-deck"))
}

fn main() -> std::process::ExitCode {
    // Before anything is printed (--help too): a closed stdout ends kdeck quietly.
    kdeck::ui::pipe::die_quietly_when_output_closes();
    // A shell asking for completions (COMPLETE=SHELL, registered by `kdeck completions`).
    clap_complete::CompleteEnv::with_factory(Cli::command).complete();
    let cli = if invoked_as_kubectl_plugin() {
        let matches = Cli::command().bin_name("kubectl deck").get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    } else {
        Cli::parse()
    };
    // --kubeconfig FILE: that file alone is read and written, as KUBECONFIG=FILE
    // would make it; set before any thread exists.
    if let Some(file) = &cli.cluster.kubeconfig {
        // SAFETY: still single-threaded: no other thread reads the environment yet.
        unsafe { std::env::set_var("KUBECONFIG", file) };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(ExitCode::Failure.code());
        }
    };
    let result = runtime.block_on(cli.run());
    // A read of an interactive stdin cannot be cancelled; waiting for it would keep
    // kdeck alive after a session ended until the user pressed a key.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            kdeck::ui::print_json_failure(&err);
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
