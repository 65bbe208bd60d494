//! The `amends` binary: parse the command line and hand over to the library.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = amends::cli::Cli::parse();
    match amends::cli::execute(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line, the whole chain of causes: "migrate: database error: …".
            eprintln!("amends: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
