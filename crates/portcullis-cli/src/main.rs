//! The `portcullis` command. Everything lives in the library; see `portcullis_cli::run`.

fn main() -> std::process::ExitCode {
    portcullis_cli::run()
}
