//! `cargo xtask bench`: how close an HTTP update gets to what PostgreSQL itself can do for the
//! same work, and what the server costs in CPU and memory.
//!
//! It builds and starts the release server on a fresh PostgreSQL database, registers clients
//! over HTTP, drives `PUT /api/v1/clients/person/{id}` and `GET /api/v1/clients/{id}` with
//! `wrk`, then runs `pgbench` with the statements the server issues for each, at the same
//! concurrency on the same data. Rounds alternate the four runs so that a noisy neighbour hurts
//! all of them alike; medians are reported. See BENCHMARKS.md.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};

pub const USAGE: &str =
    "usage: cargo xtask bench [--smoke] [--rounds N] [--seconds S] [--clients N] [--no-scaling]
  --smoke       a few seconds of each run, to check the benchmark works (CI); judges nothing
  --rounds N    rounds of the four runs at 16 connections (default 3); medians are reported
  --seconds S   length of each run (default 15)
  --clients N   clients registered over HTTP (default 10000)
  --no-scaling  skip the runs at 1/4/64 connections and with 1,000,000 clients
PostgreSQL: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), a user
allowed to create databases; the benchmark uses its own database, clients_bench.";

#[derive(Debug, Clone)]
pub struct Options {
    smoke: bool,
    rounds: usize,
    seconds: u64,
    clients: usize,
    scaling: bool,
}

impl Options {
    pub fn parse(args: &[&str]) -> anyhow::Result<Self> {
        let mut options = Options {
            smoke: false,
            rounds: 3,
            seconds: 15,
            clients: 10_000,
            scaling: true,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| -> anyhow::Result<u64> {
                args.next()
                    .with_context(|| format!("{name} needs a value"))?
                    .parse()
                    .with_context(|| format!("{name} needs a number"))
            };
            match *arg {
                "--smoke" => {
                    options.smoke = true;
                    options.rounds = 1;
                    options.seconds = 2;
                    options.clients = 200;
                    options.scaling = false;
                }
                "--rounds" => options.rounds = usize::try_from(value(arg)?)?.max(1),
                "--seconds" => options.seconds = value(arg)?.max(1),
                "--clients" => options.clients = usize::try_from(value(arg)?)?.max(1),
                "--no-scaling" => options.scaling = false,
                _ => bail!(USAGE),
            }
        }
        Ok(options)
    }
}

/// The connections of the main runs.
const CONNECTIONS: usize = 16;
const DATABASE: &str = "clients_bench";
/// Clients in the large-table GET run.
const MANY_CLIENTS: usize = 1_000_000;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// `text` with the password of any `scheme://user:password@host` in it masked, for messages
/// that end up in CI logs.
fn redact(text: &str) -> String {
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

fn run_command(command: &mut Command) -> anyhow::Result<String> {
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

#[cfg(test)]
mod tests {
    use super::redact;

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
}

fn has(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// wrk, pgbench and psql, from Debian's packages when missing.
fn ensure_tools() -> anyhow::Result<()> {
    let missing: Vec<&str> = [
        ("wrk", "wrk"),
        ("pgbench", "postgresql-client"),
        ("psql", "postgresql-client"),
    ]
    .into_iter()
    .filter(|(tool, _)| !has(tool))
    .map(|(_, package)| package)
    .collect();
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

/// `url` pointing at database `name`.
fn database_url(admin: &str, name: &str) -> String {
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

fn psql(url: &str, sql: &str) -> anyhow::Result<String> {
    run_command(Command::new("psql").args([url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql]))
}

/// The release server, stopped when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(binary: &Path, database: &str) -> anyhow::Result<Self> {
        let mut child = Command::new(binary)
            .args(["--bind", "127.0.0.1:0", "--database-url", database])
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot start the server")?;
        let stdout = child.stdout.take().expect("piped");
        let (port_tx, port_rx) = mpsc::channel();
        // Reads the log for the port, then keeps draining it so that the server never blocks
        // on a full pipe (its logging is part of what is measured).
        std::thread::spawn(move || {
            let mut port_tx = Some(port_tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://127.0.0.1:").nth(1) {
                    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    if let (Some(tx), Ok(port)) = (port_tx.take(), digits.parse::<u16>()) {
                        let _ = tx.send(port);
                    }
                }
            }
        });
        let port = port_rx
            .recv_timeout(Duration::from_secs(60))
            .context("the server did not start listening")?;
        Ok(Server { child, port })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User + system CPU time the process has used so far.
    fn cpu_time(&self) -> anyhow::Result<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))?;
        // Fields after the command name (which is in parentheses and may hold spaces).
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .context("malformed /proc stat")?
            .1
            .split_whitespace()
            .collect();
        // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
        let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
        let per_second: u64 = run_command(Command::new("getconf").arg("CLK_TCK"))?
            .trim()
            .parse()?;
        Ok(Duration::from_micros(ticks * 1_000_000 / per_second))
    }

    /// Peak resident memory so far, in MiB.
    fn peak_rss_mib(&self) -> anyhow::Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .context("no VmHWM")?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()?;
        Ok(kib / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 exchange on a kept-alive connection; returns the status and the `Location`.
fn exchange(stream: &mut BufReader<TcpStream>, request: &[u8]) -> anyhow::Result<(u16, String)> {
    stream.get_mut().write_all(request)?;
    let mut status_line = String::new();
    stream.read_line(&mut status_line)?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .context("no status line")?
        .parse()?;
    let (mut length, mut location) = (0usize, String::new());
    loop {
        let mut line = String::new();
        stream.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse()?,
                "location" => location = value.trim().to_owned(),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body)?;
    ensure!(
        status < 300,
        "HTTP {status}: {}",
        String::from_utf8_lossy(&body)
    );
    Ok((status, location))
}

/// Registers `count` clients over HTTP, several connections at once; returns their ids.
fn register(port: u16, key: &str, count: usize) -> anyhow::Result<Vec<String>> {
    let threads = 8.min(count);
    let handles: Vec<_> = (0..threads)
        .map(|thread| {
            let key = key.to_owned();
            std::thread::spawn(move || -> anyhow::Result<Vec<String>> {
                let mut stream = BufReader::new(TcpStream::connect(("127.0.0.1", port))?);
                let mut ids = Vec::new();
                for n in (thread..count).step_by(threads) {
                    let body = format!(
                        r#"{{"first_name":"Bench","last_name":"Client {n}","date_of_birth":"1980-01-{day:02}","gender":"{gender}","nationality":"FRA","birth_country":"FRA","country_of_tax_residence":"FRA","email":"client{n}@bench.example.com","mobile_phone_number":"+336{n:08}","address":"{n} Rue de Rivoli","city":"Paris","postcode":"75001","country_code":"FRA","kyc_level":"FULL_KYC","risk_level":"Low","planned_income":"50000-75000 EUR"}}"#,
                        day = n % 28 + 1,
                        gender = if n % 2 == 0 { "female" } else { "male" },
                    );
                    let request = format!(
                        "POST /api/v1/clients/person HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n\
                         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let (_, location) = exchange(&mut stream, request.as_bytes())?;
                    ids.push(
                        location
                            .rsplit('/')
                            .next()
                            .context("no id in Location")?
                            .to_owned(),
                    );
                }
                Ok(ids)
            })
        })
        .collect();
    let mut ids = Vec::with_capacity(count);
    for handle in handles {
        ids.extend(handle.join().expect("registration thread")?);
    }
    Ok(ids)
}

/// Throughput and latency of one run.
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Server CPU per request (wrk runs only).
    cpu_us: Option<f64>,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// The median of each figure over `runs`.
fn medians(runs: &[Run]) -> Run {
    let figure = |f: fn(&Run) -> f64| median(&mut runs.iter().map(f).collect::<Vec<_>>());
    Run {
        requests_per_second: figure(|r| r.requests_per_second),
        p50_ms: figure(|r| r.p50_ms),
        p99_ms: figure(|r| r.p99_ms),
        cpu_us: runs
            .iter()
            .all(|r| r.cpu_us.is_some())
            .then(|| median(&mut runs.iter().filter_map(|r| r.cpu_us).collect::<Vec<_>>())),
    }
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

/// Runs wrk with `script` at `connections`; the server's CPU time is read around it.
fn wrk(server: &Server, script: &Path, connections: usize, seconds: u64) -> anyhow::Result<Run> {
    let cpu_before = server.cpu_time()?;
    let output = run_command(
        Command::new("wrk")
            .args(["-t", &2.min(connections).to_string()])
            .args(["-c", &connections.to_string()])
            .args(["-d", &format!("{seconds}s"), "--latency", "-s"])
            .arg(script)
            .arg(format!("http://127.0.0.1:{}", server.port)),
    )?;
    let cpu = server.cpu_time()? - cpu_before;
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
        cpu_us: Some(cpu.as_secs_f64() * 1e6 / requests),
    })
}

/// Runs pgbench with `script` at `connections`; latencies come from its per-transaction log.
fn pgbench(
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
    let output = run_command(command.arg(url))?;
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
    Ok(Run {
        requests_per_second: tps,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        cpu_us: None,
    })
}

/// A Lua array of the ids, for the wrk scripts.
fn lua_ids(ids: &[String]) -> String {
    let mut lua = String::from("ids = {");
    for id in ids {
        let _ = write!(lua, "\"{id}\",");
    }
    lua.push_str("}\n");
    lua
}

/// The wrk scripts: random existing ids; the PUT changes city, postcode and the KYC note to
/// values drawn at random, so that nearly every request is a real change (a new version and a
/// history entry).
fn wrk_scripts(work: &Path, key: &str, ids: &[String]) -> anyhow::Result<(PathBuf, PathBuf)> {
    let ids_lua = work.join("ids.lua");
    std::fs::write(&ids_lua, lua_ids(ids))?;
    let common = format!(
        r#"dofile("{ids}")
local headers = {{ ["Authorization"] = "Bearer {key}", ["Content-Type"] = "application/json" }}
local cities = {{ "Lyon", "Nice", "Paris", "Lille", "Nantes", "Rennes", "Bordeaux", "Toulouse" }}
function setup(thread) thread:set("seed", math.random(1, 1000000)) end
function init(args) math.randomseed(seed) end
"#,
        ids = ids_lua.display()
    );
    let put = work.join("put.lua");
    std::fs::write(
        &put,
        format!(
            r#"{common}
function request()
  local id = ids[math.random(#ids)]
  local body = string.format('{{"city":"%s","postcode":"%05d","kyc_note":"reviewed %d"}}',
    cities[math.random(#cities)], math.random(1000, 99999), math.random(1, 1000000000))
  return wrk.format("PUT", "/api/v1/clients/person/" .. id, headers, body)
end
"#
        ),
    )?;
    let get = work.join("get.lua");
    std::fs::write(
        &get,
        format!(
            r#"{common}
function request()
  return wrk.format("GET", "/api/v1/clients/" .. ids[math.random(#ids)], headers)
end
"#
        ),
    )?;
    Ok((put, get))
}

/// The pgbench scripts: the statements the server sends for one PUT and one GET, in order, with
/// the same parameters (see BENCHMARKS.md for how they were read off the server). The random
/// client comes from `bench_ids` inside the first statement, so it costs no round trip. The
/// UPDATE writes every updatable column as the server does: the changed ones with new values,
/// the others with the values just read (nullable ones as themselves, which is the same work
/// for PostgreSQL).
fn pgbench_scripts(work: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let client = "(SELECT id FROM bench_ids WHERE n = :n)";
    let columns = "id, organization_id, version, created_at, updated_at, kyc_level, kyc_status, \
                   risk_level, is_blacklisted, blacklisted_comment, blocked, kyc_note, \
                   external_client_code, first_name, middle_name, last_name, date_of_birth, \
                   gender, nationality, birth_country, country_of_tax_residence, email, \
                   second_email, mobile_phone_number, second_mobile_phone_number, address, \
                   city, postcode, state_province, country_code, planned_income, \
                   planned_expenditure";
    let put = work.join("put.sql");
    std::fs::write(
        &put,
        format!(
            r#"\set n random(1, :clients)
\set r random(1, 1000000000)
\set postcode random(1000, 99999)
BEGIN;
SELECT {columns} FROM clients WHERE id = {client} LIMIT 1 FOR UPDATE \gset c_
UPDATE clients SET address = :c_address, blacklisted_comment = blacklisted_comment, blocked = :c_blocked, city = 'Lyon', country_code = :c_country_code, email = :c_email, is_blacklisted = :c_is_blacklisted, kyc_note = 'reviewed ' || :r::text, mobile_phone_number = mobile_phone_number, planned_expenditure = planned_expenditure, planned_income = planned_income, postcode = :postcode, risk_level = :c_risk_level, second_email = second_email, second_mobile_phone_number = second_mobile_phone_number, state_province = state_province, version = :c_version + 1, updated_at = now() WHERE id = :c_id;
INSERT INTO client_history (client_id, version, organization_id, recorded_at, actor_key_id, actor_name, request_id, changes) VALUES (:c_id, :c_version + 1, :c_organization_id, now(), :key_id, 'bench', 'bench-' || :r::text, '[{{"field":"city","old":"Paris","new":"Lyon"}},{{"field":"postcode","old":"75001","new":"' || :postcode::text || '"}},{{"field":"kyc_note","old": null,"new":"reviewed ' || :r::text || '"}}]');
COMMIT;
"#
        ),
    )?;
    let get = work.join("get.sql");
    std::fs::write(
        &get,
        format!(
            r#"\set n random(1, :clients)
SELECT {columns} FROM clients WHERE id = {client} LIMIT 1;
"#
        ),
    )?;
    Ok((put, get))
}

/// `bench_ids(n, id)`: the registered clients numbered from 1, for pgbench to pick from.
fn load_ids(url: &str, ids: &[String], work: &Path) -> anyhow::Result<()> {
    let csv = work.join("ids.csv");
    let mut text = String::new();
    for (n, id) in ids.iter().enumerate() {
        let _ = writeln!(text, "{},{id}", n + 1);
    }
    std::fs::write(&csv, text)?;
    psql(
        url,
        "DROP TABLE IF EXISTS bench_ids; CREATE TABLE bench_ids (n int PRIMARY KEY, id uuid NOT NULL)",
    )?;
    psql(
        url,
        &format!(
            "\\copy bench_ids FROM '{}' WITH (FORMAT csv)",
            csv.display()
        ),
    )?;
    psql(url, "VACUUM ANALYZE")?;
    Ok(())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|l| l.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let postgres = Command::new("psql")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!("{cores} cores ({cpu}), {memory:.0} GiB, {postgres}")
}

fn row(name: &str, run: &Run) -> String {
    format!(
        "| {name} | {:.0} | {:.2} | {:.2} | {} |",
        run.requests_per_second,
        run.p50_ms,
        run.p99_ms,
        run.cpu_us.map_or("".to_owned(), |us| format!("{us:.1}"))
    )
}

pub fn run(options: &Options) -> anyhow::Result<bool> {
    let started = Instant::now();
    ensure_tools()?;
    let root = root();
    println!("building the release server");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "--release", "--quiet", "-p", "api"])
        .status()?;
    ensure!(status.success(), "the release build failed");
    let binary = root.join("target/release/clients-api");
    let work = root.join("target/bench");
    std::fs::create_dir_all(&work)?;

    let admin = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    psql(
        &admin,
        &format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"),
    )?;
    psql(&admin, &format!("CREATE DATABASE {DATABASE}"))?;
    let url = database_url(&admin, DATABASE);

    let created = run_command(
        Command::new(&binary)
            .args([
                "--database-url",
                &url,
                "keys",
                "create",
                "--organization-id",
                "1",
            ])
            .args(["--name", "bench"]),
    )?;
    let key = created
        .split_whitespace()
        .find(|w| w.starts_with("crk_"))
        .context("no key printed")?
        .to_owned();
    let key_id = psql(&url, "SELECT id FROM api_keys")?.trim().to_owned();

    let server = Server::start(&binary, &url)?;
    println!("registering {} clients over HTTP", options.clients);
    let registering = Instant::now();
    let ids = register(server.port, &key, options.clients)?;
    let registered_per_second = ids.len() as f64 / registering.elapsed().as_secs_f64();
    load_ids(&url, &ids, &work)?;
    let (put_lua, get_lua) = wrk_scripts(&work, &key, &ids)?;
    let (put_sql, get_sql) = pgbench_scripts(&work)?;
    let defines = [("clients", ids.len().to_string()), ("key_id", key_id)];

    let seconds = options.seconds;
    let mut results: BTreeMap<&str, Vec<Run>> = BTreeMap::new();
    for round in 1..=options.rounds {
        println!("round {round}/{}", options.rounds);
        let runs = [
            ("put", wrk(&server, &put_lua, CONNECTIONS, seconds)?),
            (
                "pgbench put",
                pgbench(&url, &put_sql, &defines, CONNECTIONS, seconds, &work)?,
            ),
            ("get", wrk(&server, &get_lua, CONNECTIONS, seconds)?),
            (
                "pgbench get",
                pgbench(&url, &get_sql, &defines, CONNECTIONS, seconds, &work)?,
            ),
        ];
        for (name, run) in runs {
            println!("  {}", row(name, &run));
            results.entry(name).or_default().push(run);
        }
    }
    let peak_rss = server.peak_rss_mib()?;
    let put = medians(&results["put"]);
    let get = medians(&results["get"]);
    let put_ceiling = medians(&results["pgbench put"]);
    let get_ceiling = medians(&results["pgbench get"]);

    let mut report = String::new();
    let _ = writeln!(report, "Machine: {}", machine());
    let _ = writeln!(
        report,
        "{} clients registered over HTTP ({registered_per_second:.0}/s); {} round(s) of {seconds} s at {CONNECTIONS} connections; medians.\n",
        ids.len(),
        options.rounds
    );
    let _ = writeln!(
        report,
        "| run | requests/s | p50 ms | p99 ms | server CPU µs/request |"
    );
    let _ = writeln!(report, "|---|---|---|---|---|");
    for (name, run) in [
        ("PUT (wrk)", &put),
        ("pgbench, the PUT's statements", &put_ceiling),
        ("GET (wrk)", &get),
        ("pgbench, the GET's statements", &get_ceiling),
    ] {
        let _ = writeln!(report, "{}", row(name, run));
    }
    let _ = writeln!(
        report,
        "\nPUT / pgbench ceiling: {:.2}   GET / pgbench ceiling: {:.2}   server peak RSS: {peak_rss:.1} MiB",
        put.requests_per_second / put_ceiling.requests_per_second,
        get.requests_per_second / get_ceiling.requests_per_second,
    );

    // What is measured so far is kept even if a later run fails.
    std::fs::write(work.join("report.md"), &report)?;
    println!("\n{report}");
    if options.scaling {
        let _ = writeln!(
            report,
            "\n| PUT at connections | requests/s | p50 ms | p99 ms | server CPU µs/request |"
        );
        let _ = writeln!(report, "|---|---|---|---|---|");
        for connections in [1, 4, 16, 64] {
            println!("PUT at {connections} connection(s)");
            let run = wrk(&server, &put_lua, connections, seconds)?;
            let _ = writeln!(report, "{}", row(&connections.to_string(), &run));
        }
        println!("growing the table to {MANY_CLIENTS} clients");
        let more = MANY_CLIENTS.saturating_sub(ids.len());
        psql(
            &url,
            &format!(
                "INSERT INTO clients (id, organization_id, version, created_at, updated_at, kyc_level, \
                 kyc_status, risk_level, is_blacklisted, blocked, first_name, last_name, date_of_birth, \
                 gender, nationality, birth_country, country_of_tax_residence, email, address, city, \
                 postcode, country_code) \
                 SELECT gen_random_uuid(), 1, 1, now(), now(), 'FULL_KYC', 'NOT_STARTED', 'Low', false, \
                 false, 'Bulk', 'Client ' || g, DATE '1980-01-01', 'female', 'FRA', 'FRA', 'FRA', \
                 'bulk' || g || '@bench.example.com', g || ' Rue de Rivoli', 'Paris', '75001', 'FRA' \
                 FROM generate_series(1, {more}) AS g"
            ),
        )?;
        psql(&url, "VACUUM ANALYZE clients")?;
        let sample = psql(
            &url,
            // Row by row, not page by page: ids spread over the whole table, as random
            // callers' would be.
            "SELECT id FROM clients TABLESAMPLE BERNOULLI (10) ORDER BY random() LIMIT 100000",
        )?;
        let many: Vec<String> = sample.lines().map(str::to_owned).collect();
        std::fs::write(work.join("ids.lua"), lua_ids(&many))?;
        println!("GET with {MANY_CLIENTS} clients");
        let run = wrk(&server, &get_lua, CONNECTIONS, seconds)?;
        let _ = writeln!(report, "\n| GET, clients in the table | requests/s | p50 ms | p99 ms | server CPU µs/request |");
        let _ = writeln!(report, "|---|---|---|---|---|");
        let _ = writeln!(report, "{}", row(&ids.len().to_string(), &get));
        let _ = writeln!(report, "{}", row(&MANY_CLIENTS.to_string(), &run));
        let _ = writeln!(
            report,
            "\nServer peak RSS over everything: {:.1} MiB",
            server.peak_rss_mib()?
        );
    }
    drop(server);
    let _ = writeln!(
        report,
        "\nTotal time: {:.0} s",
        started.elapsed().as_secs_f64()
    );
    println!("\n{report}");
    std::fs::write(work.join("report.md"), &report)?;
    println!("(also in {})", work.join("report.md").display());
    if options.smoke {
        println!("smoke mode: the benchmark works; its figures mean nothing");
    }
    Ok(true)
}
