//! Project automation.
//!
//! `cargo xtask openapi` writes `openapi.yaml` from the code; `cargo xtask openapi --check` fails
//! with a diff when the committed file differs from what the code generates.
//! `cargo xtask bench` measures the update path against PostgreSQL's own ceiling (BENCHMARKS.md).

mod bench;
mod failover;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use similar::TextDiff;

const USAGE: &str = "usage: cargo xtask openapi [--check]";

fn spec_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("openapi.yaml")
}

fn generated() -> anyhow::Result<String> {
    api::openapi::spec()
        .to_yaml()
        .context("cannot render the spec as YAML")
}

/// Parses YAML into a JSON value, so that formatting and key order do not count as drift.
fn normalise(yaml: &str) -> anyhow::Result<serde_json::Value> {
    serde_norway::from_str(yaml).context("cannot parse YAML")
}

fn check() -> anyhow::Result<bool> {
    let path = spec_path();
    let committed = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let fresh = generated()?;
    if normalise(&committed)? == normalise(&fresh)? {
        println!("openapi.yaml is up to date");
        return Ok(true);
    }
    let diff = TextDiff::from_lines(&committed, &fresh);
    eprintln!(
        "{}",
        diff.unified_diff()
            .context_radius(3)
            .header("openapi.yaml (committed)", "openapi.yaml (from the code)")
    );
    eprintln!(
        "openapi.yaml has drifted from the code. Regenerate it with:\n\n    cargo xtask openapi\n"
    );
    Ok(false)
}

fn run() -> anyhow::Result<bool> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["openapi"] => {
            let path = spec_path();
            std::fs::write(&path, generated()?)
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!("wrote {}", path.canonicalize()?.display());
            Ok(true)
        }
        ["openapi", "--check"] => check(),
        ["bench", options @ ..] => bench::run(&bench::Options::parse(options)?),
        ["failover", options @ ..] => failover::run(failover::parse(options)?),
        _ => bail!("{USAGE}\n{}\n{}", bench::USAGE, failover::USAGE),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
