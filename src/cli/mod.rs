//! The `baton` command line: every subcommand's entry point lives here (`serve` and `reconcile`
//! in `serve.rs`, `pointer` in `pointer.rs`, `verify` in `verify.rs`, the small ones below), so
//! no library module depends on the command line. Exit codes: 0 success, 1 a verification or
//! check that failed, 2 bad input (with a message naming the problem).

pub mod pointer;
pub mod serve;
pub mod verify;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::pointer::Format;

#[derive(Debug, Parser)]
#[command(
    name = "baton",
    version,
    about = "Promotes signed OCI artifacts through environments with digest-pinned pull requests"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: BatonCommand,
}

#[derive(Debug, Subcommand)]
pub enum BatonCommand {
    /// Run the HTTP server (webhooks, health, metrics).
    Serve {
        /// A settings file layered over config/default.toml.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// One converging pass over every configured repository, then exit (run it as a CronJob).
    Reconcile {
        /// A settings file layered over config/default.toml.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Validate a .baton.yaml pipeline file; errors name the line.
    CheckConfig {
        /// The file to check (default: .baton.yaml).
        #[arg(default_value = ".baton.yaml")]
        file: PathBuf,
    },
    /// Read or edit a pointer in a YAML file.
    #[command(subcommand)]
    Pointer(PointerCommand),
    /// Verify an artifact's cosign signature; prints the verified digest.
    Verify(verify::VerifyArgs),
    /// Print the JSON Schema of .baton.yaml (for editors).
    Schema,
}

#[derive(Debug, Subcommand)]
pub enum PointerCommand {
    /// Print the pointer's current `tag@digest`.
    Get(PointerArgs),
    /// Set the pointer's tag and digest in place, keeping the rest of the file as it is.
    Set {
        #[command(flatten)]
        pointer: PointerArgs,
        #[arg(long)]
        tag: String,
        #[arg(long)]
        digest: String,
    },
}

#[derive(Debug, Args)]
pub struct PointerArgs {
    pub file: PathBuf,
    #[arg(long, value_parser = parse_format)]
    pub format: Format,
    /// helm-values: the image mapping (default `image`); yaml-path: the scalar's dotted path.
    #[arg(long)]
    pub field: Option<String>,
    /// kustomize-image: the `images[].name`; yaml-path: the `{repository}` of the template.
    #[arg(long)]
    pub image: Option<String>,
    /// flux-oci: the OCIRepository's `metadata.name` when the file has several.
    #[arg(long)]
    pub name: Option<String>,
    /// yaml-path: template of the scalar (default `{tag}@{digest}`).
    #[arg(long)]
    pub template: Option<String>,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

/// Runs the command line; returns the process exit code.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        BatonCommand::Pointer(cmd) => pointer::run(cmd),
        BatonCommand::CheckConfig { file } => check_config(&file),
        BatonCommand::Serve { config } => serve::serve(config.as_deref()),
        BatonCommand::Reconcile { config } => serve::reconcile(config.as_deref()),
        BatonCommand::Verify(args) => verify::run(args),
        BatonCommand::Schema => schema(),
    }
}

/// `baton check-config FILE`: exit 0 valid, 2 invalid (problems on stderr).
pub fn check_config(path: &Path) -> ExitCode {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("baton: cannot read {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    match crate::pipeline::parse(&text) {
        Ok(p) => {
            println!("{}: ok ({} artifacts, {} stages)", path.display(), p.artifacts.len(), p.stages.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            for p in &e.problems {
                eprintln!("{}:{p}", path.display());
            }
            ExitCode::from(2)
        }
    }
}

/// `baton schema`: the JSON Schema of `.baton.yaml` on stdout.
pub fn schema() -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(crate::pipeline::schema::schema_text().as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("baton: cannot write the schema: {e}");
            ExitCode::from(1)
        }
    }
}
