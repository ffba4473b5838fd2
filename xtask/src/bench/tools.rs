//! The outside tools the benchmark drives: commands, `psql`, `wrk`, `pgbench`.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, ensure, Context};

use super::process::Measured;
use super::report::Run;

/// `text` with the password of any `scheme://user:password@host` in it masked, for messages
/// that end up in CI logs.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("://") {
        let (before, after) = rest.split_at(start + 3);
        out.push_str(before);
        let authority_end = after.find(['/', ' ', '"', '?']).unwrap_or(after.len());
        let authority = &after[..authority_end];
        match authority.rsplit_once('@') {
            Some((user, host)) if user.contains(':') => {
                let name = user.split(':').next().unwrap_or_default();
                out.push_str(&format!("{name}:***@{host}"));
            }
            _ => out.push_str(authority),
        }
        rest = &after[authority_end..];
    }
    out.push_str(rest);
    out
}

pub fn run_command(command: &mut Command) -> anyhow::Result<String> {
    let shown = redact(&format!("{command:?}"));
    let output = command
        .output()
        .with_context(|| format!("cannot run {shown}"))?;
    ensure!(
        output.status.success(),
        "{shown} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        redact(&String::from_utf8_lossy(&output.stderr))
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn has(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// wrk, pgbench and psql, from Debian's packages when missing; npm when a peer is measured.
pub fn ensure_tools(peer: bool) -> anyhow::Result<()> {
    let mut wanted = vec![
        ("wrk", "wrk"),
        ("pgbench", "postgresql-client"),
        ("psql", "postgresql-client"),
    ];
    if peer {
        wanted.push(("npm", "npm"));
    }
    let mut missing: Vec<&str> = wanted
        .into_iter()
        .filter(|(tool, _)| !has(tool))
        .map(|(_, package)| package)
        .collect();
    missing.dedup();
    if missing.is_empty() {
        return Ok(());
    }
    println!("installing {missing:?} from Debian's packages");
    run_command(Command::new("apt-get").args(["update", "-q"]))?;
    run_command(
        Command::new("apt-get")
            .args(["install", "-y", "-q"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    Ok(())
}

/// `url` pointing at database `name`, its parameters kept.
pub fn database_url(admin: &str, name: &str) -> String {
    let (base, query) = admin
        .split_once('?')
        .map_or((admin, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut url = format!("{}/{name}", &base[..host_end]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

pub fn psql(url: &str, sql: &str) -> anyhow::Result<String> {
    run_command(Command::new("psql").args([url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql]))
}

/// A fresh, empty database `name`.
pub fn fresh_database(admin: &str, name: &str) -> anyhow::Result<String> {
    psql(
        admin,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )?;
    psql(admin, &format!("CREATE DATABASE {name}"))?;
    Ok(database_url(admin, name))
}

/// `1.23ms`, `456.00us`, `1.02s` in milliseconds.
fn wrk_duration_ms(text: &str) -> anyhow::Result<f64> {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .context("no unit")?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse()?;
    Ok(match unit {
        "us" => number / 1000.0,
        "ms" => number,
        "s" => number * 1000.0,
        "m" => number * 60_000.0,
        _ => bail!("unknown unit {unit}"),
    })
}

/// Runs wrk with `script` against `target` at `connections`; the CPU used by the target and by
/// PostgreSQL is read around it.
pub fn wrk(
    target: &dyn Measured,
    script: &Path,
    connections: usize,
    seconds: u64,
) -> anyhow::Result<Run> {
    let cpu_before = target.cpu_time()?;
    let pg_before = super::process::postgres_cpu_time()?;
    let output = run_command(
        Command::new("wrk")
            .args(["-t", &2.min(connections).to_string()])
            .args(["-c", &connections.to_string()])
            .args(["-d", &format!("{seconds}s"), "--latency", "-s"])
            .arg(script)
            .arg(format!("http://127.0.0.1:{}", target.port())),
    )?;
    let cpu = target.cpu_time()? - cpu_before;
    let pg = super::process::postgres_cpu_time()? - pg_before;
    let line_after = |label: &str| -> Option<&str> {
        output
            .lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(label))
            .map(str::trim)
    };
    if let Some(errors) = line_after("Non-2xx or 3xx responses:") {
        bail!("{errors} requests failed; a benchmark of errors measures nothing:\n{output}");
    }
    ensure!(
        line_after("Socket errors:").is_none(),
        "socket errors:\n{output}"
    );
    let requests: f64 = output
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .context("no request count")?
        .parse()?;
    ensure!(requests > 0.0, "no request was served:\n{output}");
    Ok(Run {
        requests_per_second: line_after("Requests/sec:")
            .context("no Requests/sec")?
            .parse()?,
        p50_ms: wrk_duration_ms(line_after("50%").context("no p50")?)?,
        p99_ms: wrk_duration_ms(line_after("99%").context("no p99")?)?,
        server_cpu_us: Some(cpu.as_secs_f64() * 1e6 / requests),
        postgres_cpu_us: Some(pg.as_secs_f64() * 1e6 / requests),
    })
}

/// Runs pgbench with `script` at `connections`; latencies come from its per-transaction log.
pub fn pgbench(
    url: &str,
    script: &Path,
    defines: &[(&str, String)],
    connections: usize,
    seconds: u64,
    work: &Path,
) -> anyhow::Result<Run> {
    let logs = work.join("pgbench-log");
    if logs.exists() {
        std::fs::remove_dir_all(&logs)?;
    }
    std::fs::create_dir_all(&logs)?;
    let mut command = Command::new("pgbench");
    command
        .current_dir(&logs)
        .args(["-n", "-M", "prepared", "-l"])
        .args(["-c", &connections.to_string()])
        .args(["-j", &2.min(connections).to_string()])
        .args(["-T", &seconds.to_string(), "-f"])
        .arg(script);
    for (name, value) in defines {
        command.args(["-D", &format!("{name}={value}")]);
    }
    let pg_before = super::process::postgres_cpu_time()?;
    let output = run_command(command.arg(url))?;
    let pg = super::process::postgres_cpu_time()? - pg_before;
    let tps: f64 = output
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .context("no tps")?
        .parse()?;
    if let Some(failed) = output
        .lines()
        .find_map(|l| l.strip_prefix("number of failed transactions: "))
    {
        ensure!(
            failed.starts_with('0'),
            "pgbench transactions failed:\n{output}"
        );
    }
    let mut latencies_us = Vec::new();
    for entry in std::fs::read_dir(&logs)? {
        for line in std::fs::read_to_string(entry?.path())?.lines() {
            // client_id transaction_no time_us script_no epoch epoch_us
            if let Some(time) = line.split_whitespace().nth(2) {
                latencies_us.push(time.parse::<f64>()?);
            }
        }
    }
    ensure!(!latencies_us.is_empty(), "pgbench logged no transaction");
    latencies_us.sort_by(f64::total_cmp);
    let at = |q: f64| latencies_us[((latencies_us.len() - 1) as f64 * q).round() as usize] / 1000.0;
    let transactions = latencies_us.len() as f64;
    Ok(Run {
        requests_per_second: tps,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        server_cpu_us: None,
        postgres_cpu_us: Some(pg.as_secs_f64() * 1e6 / transactions),
    })
}

#[cfg(test)]
mod tests {
    use super::{database_url, redact, wrk_duration_ms};

    #[test]
    fn passwords_in_urls_are_masked() {
        assert_eq!(
            redact(r#""psql" "postgres://app:s3cret@db:5432/x?sslmode=require" "-c""#),
            r#""psql" "postgres://app:***@db:5432/x?sslmode=require" "-c""#
        );
        assert_eq!(
            redact("postgres://postgres@h/db"),
            "postgres://postgres@h/db"
        );
    }

    #[test]
    fn urls_point_at_another_database_and_keep_their_parameters() {
        assert_eq!(
            database_url("postgres://u@h:5432/postgres?sslmode=disable", "b"),
            "postgres://u@h:5432/b?sslmode=disable"
        );
    }

    #[test]
    fn wrk_durations_read_in_milliseconds() {
        assert_eq!(wrk_duration_ms("456.00us").unwrap(), 0.456);
        assert_eq!(wrk_duration_ms("1.50s").unwrap(), 1500.0);
    }
}
