//! The servers under load, as processes whose CPU time and memory can be read, and PostgreSQL's
//! CPU time.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{ensure, Context};

/// A process under load.
pub trait Measured {
    fn pid(&self) -> u32;
    fn port(&self) -> u16;

    /// User + system CPU time the process has used so far.
    fn cpu_time(&self) -> anyhow::Result<Duration> {
        let (own, _) = cpu_ticks(&std::fs::read_to_string(format!(
            "/proc/{}/stat",
            self.pid()
        ))?)?;
        Ok(ticks(own))
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

/// Clock ticks per second of `/proc/<pid>/stat` times (the kernel's USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: u64 = 100;

fn ticks(n: u64) -> Duration {
    Duration::from_micros(n * 1_000_000 / TICKS_PER_SECOND)
}

/// From a `/proc/<pid>/stat` line: the process's own CPU ticks (user + system), and those of its
/// children it has reaped.
fn cpu_ticks(stat: &str) -> anyhow::Result<(u64, u64)> {
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("malformed /proc stat")?
        .1
        .split_whitespace()
        .collect();
    ensure!(fields.len() > 15, "malformed /proc stat");
    // utime, stime, cutime, cstime: fields 14 to 17 of the line, 12 to 15 after the name.
    let field = |i: usize| fields[i].parse::<u64>();
    Ok((field(11)? + field(12)?, field(13)? + field(14)?))
}

/// CPU time of every PostgreSQL process on the machine so far: the live ones, plus every backend
/// that has exited (counted in its postmaster's reaped children), so that connections opened
/// and closed within a run (pgbench's) count too.
pub fn postgres_cpu_time() -> anyhow::Result<Duration> {
    let mut processes = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let entry = entry?;
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if stat.contains(" (postgres) ") {
            let parent: u32 = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let pid: u32 = entry.file_name().to_string_lossy().parse().unwrap_or(0);
            processes.push((pid, parent, cpu_ticks(&stat)?));
        }
    }
    let postgres: Vec<u32> = processes.iter().map(|(pid, _, _)| *pid).collect();
    let total = processes
        .iter()
        .map(|(_, parent, (own, reaped))| {
            // A postmaster (its parent is not PostgreSQL) also carries its exited backends.
            own + if postgres.contains(parent) {
                0
            } else {
                *reaped
            }
        })
        .sum();
    Ok(ticks(total))
}

/// A free port on 127.0.0.1 (for a server that cannot be told to pick its own).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A process stopped (SIGTERM, then waited for) when dropped.
struct Stopped(Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// Starts `command` with its stdout piped, waits for the line that `port_of` finds a port in,
/// and keeps draining the output, so that the process never blocks on a full pipe (its logging
/// is part of what is measured).
fn start(
    mut command: Command,
    port_of: fn(&str) -> Option<u16>,
    echo: fn(&str) -> bool,
) -> anyhow::Result<(Stopped, u16)> {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {command:?}"))?;
    let stdout = child.stdout.take().expect("piped");
    let child = Stopped(child);
    let (port_tx, port_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut port_tx = Some(port_tx);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let (Some(port), true) = (port_of(&line), port_tx.is_some()) {
                let _ = port_tx.take().map(|tx| tx.send(port));
            }
            // What is worth reading after a run is shown; the rest is drained.
            if echo(&line) {
                eprintln!("server: {line}");
            }
        }
    });
    let port = port_rx
        .recv_timeout(Duration::from_secs(60))
        .with_context(|| format!("{command:?} did not start listening"))?;
    Ok((child, port))
}

/// The release server.
pub struct Server {
    child: Stopped,
    port: u16,
}

impl Server {
    /// The server, showing its warnings and errors.
    pub fn start(binary: &Path, database: &str) -> anyhow::Result<Self> {
        Self::start_with(binary, database, &[], |line| {
            line.contains(" WARN ") || line.contains(" ERROR ")
        })
    }

    /// The server with settings `env` (`NAME`, value) on top of the defaults, showing the lines
    /// of its output that `echo` picks.
    pub fn start_with(
        binary: &Path,
        database: &str,
        env: &[(&str, &str)],
        echo: fn(&str) -> bool,
    ) -> anyhow::Result<Self> {
        let mut command = Command::new(binary);
        command.args(["--bind", "127.0.0.1:0", "--database-url", database]);
        command.envs(env.iter().copied());
        // The webhook run's receiver listens on loopback.
        command.env("WEBHOOK_ALLOW_PRIVATE_URLS", "true");
        let (child, port) = start(
            command,
            |line| {
                let rest = line.split("listening on http://127.0.0.1:").nth(1)?;
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            },
            echo,
        )?;
        Ok(Server { child, port })
    }
}

impl Measured for Server {
    fn pid(&self) -> u32 {
        self.child.0.id()
    }

    fn port(&self) -> u16 {
        self.port
    }
}

/// The reference Node.js server, run from a copy of its directory with its locked dependencies.
pub struct Peer {
    child: Stopped,
    port: u16,
}

impl Peer {
    /// Copies the peer's `server.js`, `package.json` and `package-lock.json` from `source` into
    /// `work`, installs the locked dependencies there (once), and starts it on `database` with a
    /// pool of `pool` connections.
    pub fn start(source: &Path, work: &Path, database: &str, pool: usize) -> anyhow::Result<Self> {
        std::fs::create_dir_all(work)?;
        for file in ["server.js", "package.json", "package-lock.json"] {
            std::fs::copy(source.join(file), work.join(file))
                .with_context(|| format!("cannot copy {file} from {}", source.display()))?;
        }
        if !work.join("node_modules").exists() {
            println!("installing the peer's dependencies (npm ci)");
            super::tools::run_command(Command::new("npm").current_dir(work).args([
                "ci",
                "--no-audit",
                "--no-fund",
                "--silent",
            ]))?;
        }
        let port = free_port()?;
        let mut command = Command::new("node");
        command
            .current_dir(work)
            .arg("server.js")
            .env("PORT", port.to_string())
            .env("DATABASE_URL", database)
            .env("PG_POOL_MAX", pool.to_string());
        let (child, _) = start(
            command,
            |line| line.contains("listening").then_some(0),
            |line| line.contains(" WARN ") || line.contains(" ERROR "),
        )?;
        Ok(Peer { child, port })
    }
}

impl Measured for Peer {
    fn pid(&self) -> u32 {
        self.child.0.id()
    }

    fn port(&self) -> u16 {
        self.port
    }
}

#[cfg(test)]
mod tests {
    use super::cpu_ticks;

    #[test]
    fn cpu_times_are_read_after_a_name_with_spaces() {
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 2 1 20 0 1 0";
        assert_eq!(cpu_ticks(stat).unwrap(), (10, 3));
    }
}
