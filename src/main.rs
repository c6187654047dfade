//! The `tally` binary: the command line of [`tally::cli`].

fn main() -> std::process::ExitCode {
    tally::cli::main()
}
