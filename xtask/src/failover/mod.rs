//! `cargo xtask failover`: the server against a real PostgreSQL HA cluster (pg_auto_failover,
//! synchronous replication) losing its primary under load. See the README's production section
//! and BENCHMARKS.md for the figures.
//!
//! Four writers update their own client with distinct values while a probe asks for readiness;
//! every request is recorded. Then:
//! 1. the primary node dies (SIGKILL to its keeper, its postmaster and every backend at once);
//! 2. the dead node rejoins as the standby; the primary's WAL sender is stopped (SIGSTOP), so
//!    that no commit can be confirmed; for a while an operator cancels the commits' waits for
//!    the standby (PostgreSQL then reports them committed, "but might not have been
//!    replicated"), after that they meet the server's own deadline; then the primary dies.
//!
//! It passes when every request answered `2xx` or `503` within the documented bound, every
//! writer was back to `2xx` within 30 s of each kill without a restart, readiness answered `503`
//! during the outage and `200` after, no update got a `2xx` while nothing could be replicated,
//! and each client's stored value and history hold every value that got a `2xx`.

mod cluster;
mod load;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::Value;

use crate::bench::process::{Measured, Server};
use crate::bench::{create_key, release_server, root, workload::register};
use cluster::{signal, Cluster};
use load::{call, Load, Outcome, Sample};

pub const USAGE: &str = "usage: cargo xtask failover [--control single-host|async]
  Starts a pg_auto_failover cluster (monitor, primary, synchronous standby) of Debian's
  packages on free ports of 127.0.0.1 (installing them when root), the release server on a
  multi-host URL, and kills the primary under load; see xtask/src/failover/mod.rs.
  --control single-host   negative control: the server names the first primary only; the
                          run must FAIL (no recovery within 30 s)
  --control async         negative control: the standby is made asynchronous before its WAL
                          sender is stopped; the run must FAIL (updates answered 2xx lost)
  FAILOVER_KEEP=1 keeps target/failover (data directories and logs) after the run.";

/// The server's database timeouts for the run: every request answers within their sum plus
/// half a second (its budget), plus [`SLACK`] for a machine busy running three PostgreSQL
/// servers.
const ACQUIRE_MS: u64 = 2000;
const STATEMENT_MS: u64 = 2000;
const SLACK: Duration = Duration::from_secs(1);
/// Readiness answers within a second, whatever the database does.
const READY_BOUND: Duration = Duration::from_secs(2);
/// Every writer must be back to `2xx` within this of a kill.
const RECOVERY: Duration = Duration::from_secs(30);
const WRITERS: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    SingleHost,
    Async,
}

pub fn parse(args: &[&str]) -> anyhow::Result<Option<Control>> {
    match args {
        [] => Ok(None),
        ["--control", "single-host"] => Ok(Some(Control::SingleHost)),
        ["--control", "async"] => Ok(Some(Control::Async)),
        _ => bail!(USAGE),
    }
}

/// A moment of the run, for the timeline.
struct Mark {
    at: Duration,
    what: String,
}

/// One kill and what followed.
struct Kill {
    at: Duration,
    node: String,
    /// When the monitor first reported another node as primary.
    promoted: Option<Duration>,
    /// Each writer's first `2xx` to a request sent after the kill.
    back: Vec<Option<Duration>>,
    /// The probe's first `200` after the kill.
    ready: Option<Duration>,
}

impl Kill {
    fn recovered(&self) -> Option<Duration> {
        self.back
            .iter()
            .copied()
            .collect::<Option<Vec<_>>>()
            .and_then(|all| all.into_iter().max())
    }
}

pub fn run(control: Option<Control>) -> anyhow::Result<bool> {
    cluster::ensure_packages()?;
    let binary = release_server()?;
    let mut cluster = Cluster::start(&root().join("target/failover"))?;
    let logs = cluster.logs();
    let result = exercise(&mut cluster, &binary, control);
    if result.is_err() {
        eprintln!(
            "the cluster's logs: {} (FAILOVER_KEEP=1 keeps them)",
            logs.display()
        );
    }
    let passed = result?;
    match (control, passed) {
        (None, _) => Ok(passed),
        (Some(control), false) => {
            println!("negative control {control:?}: failed, as it must");
            Ok(true)
        }
        (Some(control), true) => {
            println!("negative control {control:?} PASSED: the test cannot tell a broken setup");
            Ok(false)
        }
    }
}

fn exercise(
    cluster: &mut Cluster,
    binary: &std::path::Path,
    control: Option<Control>,
) -> anyhow::Result<bool> {
    let first = cluster.primary()?;
    let url = match control {
        Some(Control::SingleHost) => cluster.single_host_url(first),
        _ => cluster.url(),
    };
    println!("server on {url}");
    let key = create_key(binary, &url)?;
    let (acquire, statement) = (ACQUIRE_MS.to_string(), STATEMENT_MS.to_string());
    let server = Server::start_with(
        binary,
        &url,
        &[
            ("DB_ACQUIRE_TIMEOUT_MS", &acquire),
            ("DB_STATEMENT_TIMEOUT_MS", &statement),
        ],
        |line| line.contains(" ERROR ") || line.contains("synchronous standby"),
    )?;
    let clients = register(server.port(), &key, WRITERS)?;
    let load = Load::start(server.port(), &key, &clients);
    let mut marks = vec![Mark {
        at: Duration::ZERO,
        what: "writers start".to_owned(),
    }];
    let mut mark = |load: &Load, what: String| {
        println!("{:>7.2} s  {what}", load.now().as_secs_f64());
        marks.push(Mark {
            at: load.now(),
            what,
        });
    };
    let mut kills = Vec::new();
    let mut failures = Vec::new();

    std::thread::sleep(Duration::from_secs(3));
    // 1. The primary dies.
    let primary = cluster.primary()?;
    mark(
        &load,
        format!("{} (primary) killed", cluster.nodes[primary].name),
    );
    let kill = kill_and_recover(cluster, &load, primary)?;
    let recovered = kill.recovered();
    kills.push(kill);
    let mut stall = None;
    if recovered.is_some() {
        std::thread::sleep(Duration::from_secs(2));
        // 2. Back to a pair; the WAL sender stalls; the primary dies.
        mark(&load, format!("{} rejoins", cluster.nodes[primary].name));
        cluster.rejoin(primary)?;
        mark(
            &load,
            format!("{} back as the standby", cluster.nodes[primary].name),
        );
        let primary = cluster.primary()?;
        if control == Some(Control::Async) {
            cluster.make_asynchronous(1 - primary)?;
            mark(&load, "the standby made asynchronous".to_owned());
        }
        std::thread::sleep(Duration::from_secs(2));
        let sender = cluster.wal_sender(primary)?;
        signal("STOP", &[sender])?;
        let stopped = load.now();
        mark(&load, format!("the WAL sender ({sender}) stopped"));
        let mut cancelled = 0;
        while load.now() < stopped + Duration::from_secs(4) {
            cancelled += cluster.cancel_sync_waits(primary).unwrap_or(0);
            std::thread::sleep(Duration::from_millis(200));
        }
        mark(
            &load,
            format!(
                "{cancelled} waits for the standby cancelled; from now on the server's deadline"
            ),
        );
        std::thread::sleep(Duration::from_secs(4));
        mark(
            &load,
            format!("{} (primary) killed", cluster.nodes[primary].name),
        );
        stall = Some((stopped, load.now()));
        kills.push(kill_and_recover(cluster, &load, primary)?);
    }
    std::thread::sleep(Duration::from_secs(2));
    let samples = load.stop();
    mark_end(&mut marks, &samples);
    // Readiness may have come back after the writers did.
    for kill in &mut kills {
        kill.ready = first_after(&samples, kill.at, None, |o| o == &Outcome::Status(200));
    }

    print_timeline(&marks, &samples, &kills);
    check_answers(&samples, &mut failures);
    check_recovery(&kills, &samples, &mut failures);
    if let Some((from, to)) = stall {
        check_stall(&samples, from, to, &mut failures);
    }
    if let Err(error) = check_data(server.port(), &key, &clients, &samples, &mut failures) {
        failures.push(format!("the data could not be read back: {error:#}"));
    }
    drop(server);
    if failures.is_empty() {
        println!("failover: passed");
        Ok(true)
    } else {
        println!("failover: FAILED");
        for failure in &failures {
            println!("  - {failure}");
        }
        Ok(false)
    }
}

/// Kills node `i` and waits until every writer has had a `2xx` again (at most [`RECOVERY`]).
fn kill_and_recover(cluster: &mut Cluster, load: &Load, i: usize) -> anyhow::Result<Kill> {
    let name = cluster.nodes[i].name.clone();
    cluster.kill(i)?;
    // From the moment every process of the node is gone.
    let at = load.now();
    let mut promoted = None;
    loop {
        if promoted.is_none() {
            let states = cluster.states().unwrap_or_default();
            if states.iter().any(|(n, _, reported, _)| {
                // wait_primary: a primary whose standby is missing (the dead node).
                *n != name && (reported == "primary" || reported == "wait_primary")
            }) {
                promoted = Some(load.now() - at);
                println!(
                    "{:>7.2} s  the monitor reports a new primary",
                    load.now().as_secs_f64()
                );
            }
        }
        let samples = load.samples();
        let kill = Kill {
            at,
            node: name.clone(),
            promoted,
            back: (0..WRITERS)
                .map(|w| first_after(&samples, at, Some(w), Outcome::is_success))
                .collect(),
            ready: first_after(&samples, at, None, |o| o == &Outcome::Status(200)),
        };
        if let Some(back) = kill.recovered() {
            println!(
                "{:>7.2} s  every writer back to 2xx",
                (at + back).as_secs_f64()
            );
            return Ok(kill);
        }
        if load.now() > at + RECOVERY + Duration::from_secs(5) {
            println!("no recovery within {RECOVERY:?} of the kill");
            return Ok(kill);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// How long after `at` the first request of `writer` sent after `at` ended with `outcome`.
fn first_after(
    samples: &[Sample],
    at: Duration,
    writer: Option<usize>,
    outcome: impl Fn(&Outcome) -> bool,
) -> Option<Duration> {
    samples
        .iter()
        .filter(|s| s.writer == writer && s.started >= at && outcome(&s.outcome))
        .map(|s| s.ended() - at)
        .min()
}

fn mark_end(marks: &mut Vec<Mark>, samples: &[Sample]) {
    let end = samples.iter().map(Sample::ended).max().unwrap_or_default();
    marks.push(Mark {
        at: end,
        what: "writers stop".to_owned(),
    });
}

/// Requests by phase (between two marks, by when they were sent) and outcome; recovery times.
fn print_timeline(marks: &[Mark], samples: &[Sample], kills: &[Kill]) {
    let mut out = String::from("\ntimeline (updates by outcome; readiness probes by outcome)\n");
    for phase in marks.windows(2) {
        let (from, to) = (phase[0].at, phase[1].at);
        let mut updates: BTreeMap<String, usize> = BTreeMap::new();
        let mut probes: BTreeMap<String, usize> = BTreeMap::new();
        let mut longest = Duration::ZERO;
        for s in samples
            .iter()
            .filter(|s| s.started >= from && s.started < to)
        {
            let counts = if s.writer.is_some() {
                longest = longest.max(s.took);
                &mut updates
            } else {
                &mut probes
            };
            *counts.entry(s.outcome.label()).or_default() += 1;
        }
        let _ = writeln!(
            out,
            "{:>7.2} s .. {:>7.2} s  {:<60} updates {:?} (longest {:.2} s), ready {:?}",
            from.as_secs_f64(),
            to.as_secs_f64(),
            phase[0].what,
            updates,
            longest.as_secs_f64(),
            probes
        );
    }
    for kill in kills {
        let seconds = |d: Option<Duration>| {
            d.map_or_else(
                || "never".to_owned(),
                |d| format!("{:.2} s", d.as_secs_f64()),
            )
        };
        let _ = writeln!(
            out,
            "kill of {} at {:.2} s: new primary after {}, readiness 200 after {}, every writer \
             back after {} (each: {})",
            kill.node,
            kill.at.as_secs_f64(),
            seconds(kill.promoted),
            seconds(kill.ready),
            seconds(kill.recovered()),
            kill.back
                .iter()
                .map(|b| seconds(*b))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!("{out}");
}

/// Every request answered: updates `2xx` or `503` within the bound, readiness `200` or `503`
/// within a second or so.
fn check_answers(samples: &[Sample], failures: &mut Vec<String>) {
    let bound =
        Duration::from_millis(ACQUIRE_MS + STATEMENT_MS) + Duration::from_millis(500) + SLACK;
    for s in samples {
        let (limit, what) = match s.writer {
            Some(w) => (bound, format!("update {} of writer {w}", s.value)),
            None => (READY_BOUND, "readiness".to_owned()),
        };
        let fine = matches!(s.outcome, Outcome::Status(503)) || s.outcome.is_success();
        if !fine || s.took > limit {
            failures.push(format!(
                "{what} sent at {:.2} s: {:?} after {:.2} s (allowed: 2xx or 503 within {:.1} s)",
                s.started.as_secs_f64(),
                s.outcome,
                s.took.as_secs_f64(),
                limit.as_secs_f64()
            ));
        }
    }
}

fn check_recovery(kills: &[Kill], samples: &[Sample], failures: &mut Vec<String>) {
    for kill in kills {
        match kill.recovered() {
            Some(back) if back <= RECOVERY => {}
            _ => failures.push(format!(
                "after the kill of {}, not every writer was back to 2xx within {RECOVERY:?}",
                kill.node
            )),
        }
        let end = kill.at + kill.recovered().unwrap_or(RECOVERY);
        let refused = samples.iter().any(|s| {
            s.writer.is_none()
                && s.started >= kill.at
                && s.started < end
                && s.outcome == Outcome::Status(503)
        });
        if !refused {
            failures.push(format!(
                "readiness never answered 503 during the outage after the kill of {}",
                kill.node
            ));
        }
    }
    let last_probe = samples.iter().rev().find(|s| s.writer.is_none());
    if last_probe.is_none_or(|s| s.outcome != Outcome::Status(200)) {
        failures.push(format!(
            "readiness is not 200 at the end: {:?}",
            last_probe.map(|s| &s.outcome)
        ));
    }
}

/// While the WAL sender is stopped no commit can be confirmed: no update may be answered `2xx`
/// (those sent in the first 200 ms may have been confirmed before the stop).
fn check_stall(samples: &[Sample], from: Duration, to: Duration, failures: &mut Vec<String>) {
    let during: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.writer.is_some() && s.started >= from + Duration::from_millis(200))
        .filter(|s| s.ended() < to)
        .collect();
    let acknowledged: Vec<&&Sample> = during.iter().filter(|s| s.outcome.is_success()).collect();
    if !acknowledged.is_empty() {
        failures.push(format!(
            "{} of {} updates were answered 2xx while nothing could be replicated (first: {} at {:.2} s)",
            acknowledged.len(),
            during.len(),
            acknowledged[0].value,
            acknowledged[0].started.as_secs_f64()
        ));
    }
    if during.is_empty() {
        failures.push("no update was answered while the WAL sender was stopped".to_owned());
    }
}

/// Each client's stored value is its writer's last `2xx` (or a later `503` that had landed), and
/// its history holds every value that got a `2xx`.
fn check_data(
    port: u16,
    key: &str,
    clients: &[String],
    samples: &[Sample],
    failures: &mut Vec<String>,
) -> anyhow::Result<()> {
    let mut acknowledged_total = 0;
    for (writer, id) in clients.iter().enumerate() {
        let mine: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.writer == Some(writer))
            .collect();
        let acknowledged: Vec<&str> = mine
            .iter()
            .filter(|s| s.outcome.is_success())
            .map(|s| s.value.as_str())
            .collect();
        acknowledged_total += acknowledged.len();
        let history = history_values(port, key, id)?;
        let lost: Vec<&str> = acknowledged
            .iter()
            .copied()
            .filter(|v| !history.contains(*v))
            .collect();
        if !lost.is_empty() {
            failures.push(format!(
                "writer {writer}: {} of {} updates answered 2xx are not in the history (lost), e.g. {:?}",
                lost.len(),
                acknowledged.len(),
                &lost[..lost.len().min(5)]
            ));
        }
        let (status, body) = call(
            port,
            "GET",
            &format!("/api/v1/clients/{id}"),
            Some(key),
            None,
        )
        .map_err(anyhow::Error::msg)?;
        let stored: Value =
            serde_json::from_str(&body).with_context(|| format!("{status}: {body}"))?;
        let stored = stored["city"].as_str().unwrap_or_default().to_owned();
        let last_ok = mine.iter().rposition(|s| s.outcome.is_success());
        // The last value answered 2xx, or one sent after it that answered 503 but had landed.
        let possible: Vec<&str> = last_ok
            .map(|i| &mine[i..])
            .unwrap_or_default()
            .iter()
            .filter(|s| s.outcome.is_success() || s.outcome == Outcome::Status(503))
            .map(|s| s.value.as_str())
            .collect();
        if last_ok.is_some() && !possible.contains(&stored.as_str()) {
            failures.push(format!(
                "writer {writer}: the stored city is {stored:?}, not the last value answered 2xx ({:?})",
                last_ok.map(|i| &mine[i].value)
            ));
        }
    }
    println!(
        "data: {acknowledged_total} updates answered 2xx, each checked in its client's history"
    );
    Ok(())
}

/// Every `city` value the client's history shows, all pages.
fn history_values(
    port: u16,
    key: &str,
    id: &str,
) -> anyhow::Result<std::collections::HashSet<String>> {
    let mut values = std::collections::HashSet::new();
    let mut offset = 0;
    loop {
        let path = format!("/api/v1/clients/{id}/history?limit=200&offset={offset}");
        let (status, body) =
            call(port, "GET", &path, Some(key), None).map_err(anyhow::Error::msg)?;
        let page: Vec<Value> =
            serde_json::from_str(&body).with_context(|| format!("history: {status}: {body}"))?;
        for entry in &page {
            for change in entry["changes"].as_array().into_iter().flatten() {
                if change["field"] == "city" {
                    if let Some(new) = change["new"].as_str() {
                        values.insert(new.to_owned());
                    }
                }
            }
        }
        if page.len() < 200 {
            return Ok(values);
        }
        offset += page.len();
    }
}
