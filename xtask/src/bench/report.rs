//! Figures of one run, medians over rounds, and the tables of the report.

use std::fmt::Write as _;

/// Throughput, latency and CPU of one run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Run {
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// CPU of the server under load, per request (wrk runs only).
    pub server_cpu_us: Option<f64>,
    /// CPU of every PostgreSQL process, per request or transaction.
    pub postgres_cpu_us: Option<f64>,
}

pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// Requests per second of `ours` over `theirs`, run by run.
pub fn paired_ratios(ours: &[Run], theirs: &[Run]) -> Vec<f64> {
    ours.iter()
        .zip(theirs)
        .map(|(a, b)| a.requests_per_second / b.requests_per_second)
        .collect()
}

/// The median of each figure over `runs`.
pub fn medians(runs: &[Run]) -> Run {
    let figure = |f: fn(&Run) -> f64| median(&mut runs.iter().map(f).collect::<Vec<_>>());
    let optional = |f: fn(&Run) -> Option<f64>| {
        let values: Option<Vec<f64>> = runs.iter().map(f).collect();
        values.map(|mut v| median(&mut v))
    };
    Run {
        requests_per_second: figure(|r| r.requests_per_second),
        p50_ms: figure(|r| r.p50_ms),
        p99_ms: figure(|r| r.p99_ms),
        server_cpu_us: optional(|r| r.server_cpu_us),
        postgres_cpu_us: optional(|r| r.postgres_cpu_us),
    }
}

fn micros(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |us| format!("{us:.0}"))
}

pub const RUN_HEADER: &str = "| run | requests/s | p50 ms | p99 ms | server CPU µs/request | PostgreSQL CPU µs/request |\n|---|---|---|---|---|---|";

/// One row of a table under [`RUN_HEADER`].
pub fn row(name: &str, run: &Run) -> String {
    format!(
        "| {name} | {:.0} | {:.2} | {:.2} | {} | {} |",
        run.requests_per_second,
        run.p50_ms,
        run.p99_ms,
        micros(run.server_cpu_us),
        micros(run.postgres_cpu_us),
    )
}

/// What one server did, for the side-by-side table.
pub struct Side {
    pub name: String,
    pub put: Run,
    pub get: Run,
    pub peak_rss_mib: f64,
}

/// The servers side by side, one column each, with pgbench's figures for our statements.
pub fn side_by_side(sides: &[Side], pgbench_put: &Run, pgbench_get: &Run) -> String {
    let mut table = String::from("| |");
    for side in sides {
        let _ = write!(table, " {} |", side.name);
    }
    table.push_str(" pgbench, our statements |\n|---|");
    for _ in sides {
        table.push_str("---|");
    }
    table.push_str("---|\n");
    let mut line = |label: &str, figure: &dyn Fn(&Side) -> String, pgbench: String| {
        let _ = write!(table, "| {label} |");
        for side in sides {
            let _ = write!(table, " {} |", figure(side));
        }
        let _ = writeln!(table, " {pgbench} |");
    };
    line(
        "PUT req/s",
        &|s| format!("{:.0}", s.put.requests_per_second),
        format!("{:.0}", pgbench_put.requests_per_second),
    );
    line(
        "PUT p50 / p99 ms",
        &|s| format!("{:.2} / {:.2}", s.put.p50_ms, s.put.p99_ms),
        format!("{:.2} / {:.2}", pgbench_put.p50_ms, pgbench_put.p99_ms),
    );
    line(
        "server CPU µs per PUT",
        &|s| micros(s.put.server_cpu_us),
        "–".into(),
    );
    line(
        "PostgreSQL CPU µs per PUT",
        &|s| micros(s.put.postgres_cpu_us),
        micros(pgbench_put.postgres_cpu_us),
    );
    line(
        "GET req/s",
        &|s| format!("{:.0}", s.get.requests_per_second),
        format!("{:.0}", pgbench_get.requests_per_second),
    );
    line(
        "GET p50 / p99 ms",
        &|s| format!("{:.2} / {:.2}", s.get.p50_ms, s.get.p99_ms),
        format!("{:.2} / {:.2}", pgbench_get.p50_ms, pgbench_get.p99_ms),
    );
    line(
        "server CPU µs per GET",
        &|s| micros(s.get.server_cpu_us),
        "–".into(),
    );
    line(
        "PostgreSQL CPU µs per GET",
        &|s| micros(s.get.postgres_cpu_us),
        micros(pgbench_get.postgres_cpu_us),
    );
    line(
        "peak RSS MiB",
        &|s| format!("{:.1}", s.peak_rss_mib),
        "–".into(),
    );
    table
}

/// The targets, each with what was measured and whether it is met. Informational: a benchmark
/// never fails for being slow.
pub fn targets(
    ours: &Side,
    // Our requests per second over the peer's, PUT and GET (medians of the paired rounds).
    peer_ratios: Option<(f64, f64)>,
    pgbench_put: &Run,
    sqlite_p99_16: Option<f64>,
) -> String {
    let mut lines = vec![
        (
            "PUT ≥ 0.8 × pgbench of its own statements".to_owned(),
            ours.put.requests_per_second / pgbench_put.requests_per_second,
            0.8,
            true,
        ),
        (
            "server CPU ≤ 60 µs per PUT".to_owned(),
            ours.put.server_cpu_us.unwrap_or(f64::NAN),
            60.0,
            false,
        ),
        (
            "server CPU ≤ 30 µs per GET".to_owned(),
            ours.get.server_cpu_us.unwrap_or(f64::NAN),
            30.0,
            false,
        ),
        (
            "PUT p99 < 10 ms at 16 connections".to_owned(),
            ours.put.p99_ms,
            10.0,
            false,
        ),
        (
            "GET p99 < 10 ms at 16 connections".to_owned(),
            ours.get.p99_ms,
            10.0,
            false,
        ),
        (
            "peak RSS < 64 MiB".to_owned(),
            ours.peak_rss_mib,
            64.0,
            false,
        ),
    ];
    if let Some((put, get)) = peer_ratios {
        lines.insert(
            0,
            (
                "PUT throughput ≥ the peer's (ratio)".to_owned(),
                put,
                1.0,
                true,
            ),
        );
        lines.insert(
            1,
            (
                "GET throughput ≥ 2 × the peer's (ratio)".to_owned(),
                get,
                2.0,
                true,
            ),
        );
    }
    if let Some(p99) = sqlite_p99_16 {
        lines.push((
            "SQLite PUT p99 < 20 ms at 16 connections".to_owned(),
            p99,
            20.0,
            false,
        ));
    }
    let mut table = String::from("| target | measured | |\n|---|---|---|\n");
    for (name, value, bound, at_least) in lines {
        let met = if at_least {
            value >= bound
        } else {
            value <= bound
        };
        let _ = writeln!(
            table,
            "| {name} | {value:.2} | {} |",
            if met { "met" } else { "missed" }
        );
    }
    table
}
