//! `cargo xtask bench`: our server against a reference server doing less (the Node.js peer,
//! when `--peer` names its directory) and against PostgreSQL's own ceiling for our statements
//! (pgbench), in one run, on the same machine, data and load; then the embedded SQLite default.
//!
//! It builds and starts the release server on a fresh PostgreSQL database, registers clients
//! over HTTP (the peer gets the same ones), drives `PUT /api/v1/clients/person/{id}` and
//! `GET /api/v1/clients/{id}` with `wrk`, and runs `pgbench` with the statements the server
//! issues for each. Rounds alternate the runs so that a noisy neighbour hurts all of them alike;
//! medians are reported. Every server reaches PostgreSQL the same way: TCP on 127.0.0.1, no
//! TLS. See BENCHMARKS.md.

pub mod process;
mod report;
mod tools;
mod webhooks;
pub mod workload;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, ensure, Context};

use process::{Measured, Peer, Server};
use report::{medians, row, side_by_side, targets, Run, Side, RUN_HEADER};
use tools::{ensure_tools, fresh_database, psql, run_command};
use workload::{load_ids, pgbench_scripts, register, Scripts};

pub const USAGE: &str = "usage: cargo xtask bench [--smoke] [--rounds N] [--seconds S] [--clients N] [--no-scaling] [--peer DIR]
  --smoke       a few seconds of each run, to check the benchmark works (CI); judges nothing
  --rounds N    rounds of the runs at 16 connections (default 3); medians are reported
  --seconds S   length of each run (default 15)
  --clients N   clients registered over HTTP (default 10000)
  --no-scaling  skip the runs at 1/4/64 connections and with 1,000,000 clients
  --peer DIR    also measure the reference server in DIR (server.js, package.json,
                package-lock.json), run with Node.js after `npm ci`
PostgreSQL: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), a user
allowed to create databases; the benchmark uses its own databases, clients_bench and
clients_bench_peer, and reaches them without TLS, as the peer does.";

#[derive(Debug, Clone)]
pub struct Options {
    smoke: bool,
    rounds: usize,
    seconds: u64,
    clients: usize,
    scaling: bool,
    peer: Option<PathBuf>,
}

impl Options {
    pub fn parse(args: &[&str]) -> anyhow::Result<Self> {
        let mut options = Options {
            smoke: false,
            rounds: 3,
            seconds: 15,
            clients: 10_000,
            scaling: true,
            peer: None,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| -> anyhow::Result<&str> {
                args.next()
                    .copied()
                    .with_context(|| format!("{name} needs a value"))
            };
            let number = |text: &str| -> anyhow::Result<u64> {
                text.parse()
                    .with_context(|| format!("{arg} needs a number"))
            };
            match *arg {
                "--smoke" => {
                    options.smoke = true;
                    options.rounds = 1;
                    options.seconds = 2;
                    options.clients = 200;
                    options.scaling = false;
                }
                "--rounds" => options.rounds = usize::try_from(number(value(arg)?)?)?.max(1),
                "--seconds" => options.seconds = number(value(arg)?)?.max(1),
                "--clients" => options.clients = usize::try_from(number(value(arg)?)?)?.max(1),
                "--no-scaling" => options.scaling = false,
                "--peer" => options.peer = Some(PathBuf::from(value(arg)?)),
                _ => bail!(USAGE),
            }
        }
        Ok(options)
    }
}

/// The connections of the main runs.
const CONNECTIONS: usize = 16;
/// Clients in the large-table GET run.
const MANY_CLIENTS: usize = 1_000_000;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// `url` with `sslmode=disable`: every side of the benchmark reaches PostgreSQL without TLS.
fn without_tls(url: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}sslmode=disable")
}

/// A key for organization 1, made with the server's command line.
pub fn create_key(binary: &Path, database: &str) -> anyhow::Result<String> {
    let created = run_command(
        Command::new(binary)
            .args(["--database-url", database, "keys", "create"])
            .args(["--organization-id", "1", "--name", "bench"]),
    )?;
    Ok(created
        .split_whitespace()
        .find(|w| w.starts_with("crk_"))
        .context("no key printed")?
        .to_owned())
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

/// Builds the release server (nothing to do when it is up to date); its path.
pub fn release_server() -> anyhow::Result<PathBuf> {
    let root = root();
    println!("building the release server");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "--release", "--quiet", "-p", "api"])
        .status()?;
    ensure!(status.success(), "the release build failed");
    Ok(root.join("target/release/clients-api"))
}

/// A server under load with its scripts.
struct Target<'a> {
    name: &'a str,
    process: &'a dyn Measured,
    scripts: &'a Scripts,
}

pub fn run(options: &Options) -> anyhow::Result<bool> {
    let started = Instant::now();
    ensure_tools(options.peer.is_some())?;
    let root = root();
    let binary = release_server()?;
    let work = root.join("target/bench");
    std::fs::create_dir_all(&work)?;

    let admin = without_tls(
        &std::env::var("BENCH_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned()),
    );
    let url = fresh_database(&admin, "clients_bench")?;
    let key = create_key(&binary, &url)?;
    let key_id = psql(&url, "SELECT id FROM api_keys")?.trim().to_owned();
    let server = Server::start(&binary, &url)?;
    println!("registering {} clients over HTTP", options.clients);
    let registering = Instant::now();
    let ids = register(server.port(), &key, options.clients)?;
    let registered_per_second = ids.len() as f64 / registering.elapsed().as_secs_f64();
    load_ids(&url, &ids, &work)?;
    let ours = Scripts::write(&work.join("ours"), &key, &ids)?;
    let (put_sql, get_sql) = pgbench_scripts(&work)?;
    let defines = [("clients", ids.len().to_string()), ("key_id", key_id)];

    let peer = match &options.peer {
        Some(source) => {
            let peer_url = fresh_database(&admin, "clients_bench_peer")?;
            let peer = Peer::start(source, &work.join("peer"), &peer_url, CONNECTIONS)?;
            println!("registering {} clients on the peer", options.clients);
            let peer_ids = register(peer.port(), &key, options.clients)?;
            psql(&peer_url, "VACUUM ANALYZE")?;
            let scripts = Scripts::write(&work.join("peer"), &key, &peer_ids)?;
            Some((peer, scripts))
        }
        None => None,
    };
    let mut targets_under_load = vec![Target {
        name: "ours",
        process: &server,
        scripts: &ours,
    }];
    if let Some((peer, scripts)) = &peer {
        targets_under_load.push(Target {
            name: "peer",
            process: peer,
            scripts,
        });
    }

    let seconds = options.seconds;
    let mut results: BTreeMap<String, Vec<Run>> = BTreeMap::new();
    let mut record = |name: String, run: Run| {
        println!("  {}", row(&name, &run));
        results.entry(name).or_default().push(run);
    };
    for round in 1..=options.rounds {
        println!("round {round}/{}", options.rounds);
        for target in &targets_under_load {
            let run = tools::wrk(target.process, &target.scripts.put, CONNECTIONS, seconds)?;
            record(format!("{} PUT", target.name), run);
        }
        let run = tools::pgbench(&url, &put_sql, &defines, CONNECTIONS, seconds, &work)?;
        record("pgbench PUT".into(), run);
        for target in &targets_under_load {
            let run = tools::wrk(target.process, &target.scripts.get, CONNECTIONS, seconds)?;
            record(format!("{} GET", target.name), run);
        }
        let run = tools::pgbench(&url, &get_sql, &defines, CONNECTIONS, seconds, &work)?;
        record("pgbench GET".into(), run);
    }
    let mut sides = Vec::new();
    for target in &targets_under_load {
        sides.push(Side {
            name: target.name.to_owned(),
            put: medians(&results[&format!("{} PUT", target.name)]),
            get: medians(&results[&format!("{} GET", target.name)]),
            peak_rss_mib: target.process.peak_rss_mib()?,
        });
    }
    drop(targets_under_load);
    drop(peer);
    let pgbench_put = medians(&results["pgbench PUT"]);
    let pgbench_get = medians(&results["pgbench GET"]);

    let mut report = String::new();
    let _ = writeln!(report, "Machine: {}", machine());
    let _ = writeln!(
        report,
        "{} clients registered over HTTP ({registered_per_second:.0}/s); {} round(s) of {seconds} s at {CONNECTIONS} connections; medians.\n",
        ids.len(),
        options.rounds
    );
    report.push_str(&side_by_side(&sides, &pgbench_put, &pgbench_get));
    let _ = writeln!(
        report,
        "\nPUT / pgbench of our statements: {:.2}   GET / pgbench: {:.2}",
        sides[0].put.requests_per_second / pgbench_put.requests_per_second,
        sides[0].get.requests_per_second / pgbench_get.requests_per_second,
    );
    let mut peer_ratios = None;
    if sides.len() > 1 {
        let mut medians_of_ratios = Vec::new();
        // Round by round: the two ran back to back, on the machine as it was then, so their
        // ratio is steadier than the ratio of medians when a neighbour slows the machine down.
        for method in ["PUT", "GET"] {
            let ratios = report::paired_ratios(
                &results[&format!("ours {method}")],
                &results[&format!("peer {method}")],
            );
            let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
            let _ = writeln!(
                report,
                "{method} ours / peer, round by round: {} (median {:.2})",
                shown.join(", "),
                report::median(&mut ratios.clone()),
            );
            medians_of_ratios.push(report::median(&mut ratios.clone()));
        }
        peer_ratios = Some((medians_of_ratios[0], medians_of_ratios[1]));
    }
    // What is measured so far is kept even if a later run fails.
    std::fs::write(work.join("report.md"), &report)?;
    println!("\n{report}");

    let with_endpoint =
        webhooks::put_with_an_endpoint(&server, &ours.put, &key, CONNECTIONS, seconds)?;
    let _ = writeln!(
        report,
        "\nPUT with a webhook endpoint taking every update (a receiver on this machine answering \
         204), one run of {seconds} s:\n\n{RUN_HEADER}\n{}\n\n{} updates delivered, {:.0}/s from \
         the run's start to the last delivery, the last {:.1} s after the run ended.",
        row("ours PUT, endpoint", &with_endpoint.put),
        with_endpoint.delivered,
        with_endpoint.deliveries_per_second,
        with_endpoint.drained_after.as_secs_f64(),
    );
    std::fs::write(work.join("report.md"), &report)?;

    let sqlite = sqlite_runs(&binary, &work, options)?;
    let _ = writeln!(
        report,
        "\nThe embedded SQLite default, same clients and scripts:\n\n{RUN_HEADER}"
    );
    for (name, run) in &sqlite {
        let _ = writeln!(report, "{}", row(name, run));
    }
    let sqlite_p99 = sqlite
        .iter()
        .find(|(n, _)| n == "PUT, 16 connections")
        .map(|(_, r)| r.p99_ms);
    let _ = writeln!(
        report,
        "\nTargets (informational):\n\n{}",
        targets(&sides[0], peer_ratios, &pgbench_put, sqlite_p99)
    );
    std::fs::write(work.join("report.md"), &report)?;

    if options.scaling {
        scaling(
            &server,
            &ours,
            &url,
            &ids,
            seconds,
            &sides[0].get,
            &mut report,
        )?;
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

/// The server on its embedded SQLite default: PUT at 4 and 16 connections, GET at 16.
fn sqlite_runs(
    binary: &Path,
    work: &Path,
    options: &Options,
) -> anyhow::Result<Vec<(String, Run)>> {
    let dir = work.join("sqlite");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let database = dir.join("clients.db").to_string_lossy().into_owned();
    let key = create_key(binary, &database)?;
    let server = Server::start(binary, &database)?;
    println!("SQLite: registering {} clients over HTTP", options.clients);
    let ids = register(server.port(), &key, options.clients)?;
    let scripts = Scripts::write(&dir, &key, &ids)?;
    let mut runs = Vec::new();
    for (name, script, connections) in [
        ("PUT, 4 connections", &scripts.put, 4),
        ("PUT, 16 connections", &scripts.put, CONNECTIONS),
        ("GET, 16 connections", &scripts.get, CONNECTIONS),
    ] {
        let mut run = tools::wrk(&server, script, connections, options.seconds)?;
        // PostgreSQL is idle here; what it did meanwhile is not the server's.
        run.postgres_cpu_us = None;
        println!("  {}", row(name, &run));
        runs.push((name.to_owned(), run));
    }
    Ok(runs)
}

/// PUT at 1, 4, 16 and 64 connections, and GET once the table holds a million clients.
fn scaling(
    server: &Server,
    scripts: &Scripts,
    url: &str,
    ids: &[String],
    seconds: u64,
    get: &Run,
    report: &mut String,
) -> anyhow::Result<()> {
    let _ = writeln!(report, "\nPUT by connections:\n\n{RUN_HEADER}");
    for connections in [1, 4, 16, 64] {
        println!("PUT at {connections} connection(s)");
        let run = tools::wrk(server, &scripts.put, connections, seconds)?;
        let _ = writeln!(report, "{}", row(&connections.to_string(), &run));
    }
    println!("growing the table to {MANY_CLIENTS} clients");
    let more = MANY_CLIENTS.saturating_sub(ids.len());
    psql(
        url,
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
    psql(url, "VACUUM ANALYZE clients")?;
    let sample = psql(
        url,
        // Row by row, not page by page: ids spread over the whole table, as random callers'
        // would be.
        "SELECT id FROM clients TABLESAMPLE BERNOULLI (10) ORDER BY random() LIMIT 100000",
    )?;
    let many: Vec<String> = sample.lines().map(str::to_owned).collect();
    scripts.use_ids(&many)?;
    println!("GET with {MANY_CLIENTS} clients");
    let run = tools::wrk(server, &scripts.get, CONNECTIONS, seconds)?;
    let _ = writeln!(report, "\nGET by clients in the table:\n\n{RUN_HEADER}");
    let _ = writeln!(report, "{}", row(&ids.len().to_string(), get));
    let _ = writeln!(report, "{}", row(&MANY_CLIENTS.to_string(), &run));
    let _ = writeln!(
        report,
        "\nServer peak RSS over everything: {:.1} MiB",
        server.peak_rss_mib()?
    );
    Ok(())
}
