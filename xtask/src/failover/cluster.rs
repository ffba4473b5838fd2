//! A pg_auto_failover cluster of Debian's packages on 127.0.0.1: a monitor and two data nodes,
//! the standby synchronous, run as the `postgres` user with its own `HOME`, data directories and
//! free ports, and taken down (every process, every file) when dropped.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};

use crate::bench::process::free_port;

/// The monitor's settings that bring a failover from about 52 s down to about 6 s: a node is
/// checked every second and judged unhealthy after 3 s; a primary that cannot reach the monitor
/// demotes itself after 3 s, so the standby can be promoted then.
const MONITOR_TIMINGS: [(&str, &str); 6] = [
    ("health_check_period", "1000"),
    ("health_check_timeout", "1000"),
    ("health_check_max_retries", "1"),
    ("health_check_retry_delay", "500"),
    ("node_considered_unhealthy_timeout", "3000"),
    ("primary_demote_timeout", "3000"),
];

/// The newest PostgreSQL major version installed from Debian's packages.
fn postgres_version() -> anyhow::Result<String> {
    let mut versions: Vec<u32> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL is not installed (/usr/lib/postgresql)")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    versions.sort_unstable();
    versions
        .last()
        .map(u32::to_string)
        .context("no PostgreSQL version in /usr/lib/postgresql")
}

fn postgres_bin() -> String {
    format!(
        "/usr/lib/postgresql/{}/bin",
        postgres_version().unwrap_or_default()
    )
}

/// Installs Debian's packages the cluster needs, `pg_autoctl` and the monitor's extension for
/// the installed PostgreSQL, when they are missing (as root, with apt-get), or says how.
pub fn ensure_packages() -> anyhow::Result<()> {
    let version = postgres_version()?;
    let packages = [
        "pg-auto-failover-cli".to_owned(),
        format!("postgresql-{version}-auto-failover"),
    ];
    let extension = format!("/usr/lib/postgresql/{version}/lib/pgautofailover.so");
    let present = || Path::new(&extension).exists() && Path::new("/usr/bin/pg_autoctl").exists();
    if present() {
        return Ok(());
    }
    ensure!(
        is_root(),
        "pg_auto_failover is not installed: apt-get install {}",
        packages.join(" ")
    );
    println!("installing {}", packages.join(" "));
    let update = Command::new("apt-get").args(["update", "-q"]).status()?;
    ensure!(update.success(), "apt-get update failed");
    let install = Command::new("apt-get")
        .args(["install", "-y", "-q"])
        .args(&packages)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()?;
    ensure!(
        install.success() && present(),
        "installing pg_auto_failover failed"
    );
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A data node.
pub struct Node {
    pub name: String,
    pub port: u16,
    pgdata: PathBuf,
    keeper: Option<Child>,
}

/// The cluster; dropped, it stops every process it started and removes its directory.
pub struct Cluster {
    dir: PathBuf,
    monitor_port: u16,
    monitor: Option<Child>,
    pub nodes: Vec<Node>,
}

impl Cluster {
    /// Creates and starts the monitor and two nodes under `dir` (emptied first), and waits until
    /// the pair is primary and synchronous secondary.
    pub fn start(dir: &Path) -> anyhow::Result<Self> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        // pg_autoctl keeps its pid files in XDG_RUNTIME_DIR when it exists, in a shared
        // /tmp/pg_autoctl otherwise, where a stale one (a reused pid) stops the next run.
        for home in ["home/config", "home/data", "home/run"] {
            std::fs::create_dir_all(dir.join(home))?;
        }
        std::fs::create_dir_all(dir.join("logs"))?;
        let mut cluster = Cluster {
            dir: dir.to_path_buf(),
            monitor_port: free_port()?,
            monitor: None,
            nodes: Vec::new(),
        };
        if is_root() {
            chown_to_postgres(dir)?;
        }
        let started = Instant::now();
        let monitor = cluster.path("monitor");
        cluster.autoctl(&[
            "create",
            "monitor",
            "--pgdata",
            &monitor,
            "--pgport",
            &cluster.monitor_port.to_string(),
            "--hostname",
            "127.0.0.1",
            "--auth",
            "trust",
            "--no-ssl",
        ])?;
        // The monitor has no --listen: without this it listens on every address.
        cluster.autoctl(&[
            "config",
            "set",
            "--pgdata",
            &monitor,
            "postgresql.listen_addresses",
            "127.0.0.1",
        ])?;
        cluster.monitor = Some(cluster.run_keeper(&monitor, "monitor")?);
        cluster.wait_for("the monitor", Duration::from_secs(30), |c| {
            Ok(c.monitor_sql("SELECT 1").is_ok())
        })?;
        for (name, value) in MONITOR_TIMINGS {
            cluster.monitor_sql(&format!("ALTER SYSTEM SET pgautofailover.{name} = {value}"))?;
        }
        cluster.monitor_sql("SELECT pg_reload_conf()")?;

        for name in ["node1", "node2"] {
            let port = free_port()?;
            let pgdata = cluster.path(name);
            let monitor_url = format!(
                "postgres://autoctl_node@127.0.0.1:{}/pg_auto_failover?sslmode=disable",
                cluster.monitor_port
            );
            cluster.autoctl(&[
                "create",
                "postgres",
                "--pgdata",
                &pgdata,
                "--pgport",
                &port.to_string(),
                "--listen",
                "127.0.0.1",
                "--hostname",
                "127.0.0.1",
                "--name",
                name,
                "--auth",
                "trust",
                "--no-ssl",
                "--monitor",
                &monitor_url,
            ])?;
            // A keeper that cannot reach the monitor demotes its primary after 2 s, not 20.
            cluster.autoctl(&[
                "config",
                "set",
                "--pgdata",
                &pgdata,
                "timeout.network_partition_timeout",
                "2",
            ])?;
            let keeper = cluster.run_keeper(&pgdata, name)?;
            cluster.nodes.push(Node {
                name: name.to_owned(),
                port,
                pgdata: PathBuf::from(pgdata),
                keeper: Some(keeper),
            });
            let wanted = cluster.nodes.len();
            cluster.wait_for(
                &format!("{name} to join"),
                Duration::from_secs(90),
                |c| match wanted {
                    1 => Ok(c
                        .states()?
                        .iter()
                        .any(|(_, _, r, g)| r == "single" && g == r)),
                    _ => Ok(c.in_sync()? && c.states()?.len() == wanted),
                },
            )?;
        }
        println!(
            "cluster: monitor on {}, {} and {} in sync after {:.1} s",
            cluster.monitor_port,
            cluster.nodes[0].port,
            cluster.nodes[1].port,
            started.elapsed().as_secs_f64()
        );
        Ok(cluster)
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// A command run as the cluster's user, with its own HOME and pg_autoctl's state in it.
    fn command(&self, program: &str) -> Command {
        let home = self.dir.join("home");
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", program]);
            c
        } else {
            Command::new(program)
        };
        // The caller's PATH may hold directories the postgres user cannot read.
        let path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        command
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_RUNTIME_DIR", home.join("run"))
            .env("PATH", format!("{}:{path}", postgres_bin()))
            .env("PGHOST", "127.0.0.1")
            .current_dir(&self.dir);
        command
    }

    fn autoctl(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = self
            .command("pg_autoctl")
            .args(args)
            .stdin(Stdio::null())
            .output()?;
        ensure!(
            output.status.success(),
            "pg_autoctl {} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn run_keeper(&self, pgdata: &str, name: &str) -> anyhow::Result<Child> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.join("logs").join(format!("{name}.log")))?;
        self.command("pg_autoctl")
            .args(["run", "--pgdata", pgdata])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot run the keeper of {name}"))
    }

    /// `sql` on the monitor's database; its output, unaligned, `|` between columns.
    pub fn monitor_sql(&self, sql: &str) -> anyhow::Result<String> {
        psql(self.monitor_port, "pg_auto_failover", sql)
    }

    /// Every node's name, port, reported and assigned state.
    pub fn states(&self) -> anyhow::Result<Vec<(String, u16, String, String)>> {
        let out = self.monitor_sql(
            "SELECT nodename, nodeport, reportedstate, goalstate FROM pgautofailover.node ORDER BY nodeid",
        )?;
        out.lines()
            .filter(|l| !l.is_empty())
            .map(|line| {
                let f: Vec<&str> = line.split('|').collect();
                ensure!(f.len() == 4, "unexpected node line {line}");
                Ok((
                    f[0].to_owned(),
                    f[1].parse()?,
                    f[2].to_owned(),
                    f[3].to_owned(),
                ))
            })
            .collect()
    }

    /// Whether one node is primary and another secondary, each as assigned.
    pub fn in_sync(&self) -> anyhow::Result<bool> {
        let states = self.states()?;
        let settled = |role: &str| states.iter().any(|(_, _, r, g)| r == role && g == role);
        Ok(settled("primary") && settled("secondary"))
    }

    /// The node the monitor has as primary.
    pub fn primary(&self) -> anyhow::Result<usize> {
        let states = self.states()?;
        let (name, ..) = states
            .iter()
            .find(|(_, _, reported, _)| reported == "primary")
            .context("no primary")?;
        self.node(name)
    }

    fn node(&self, name: &str) -> anyhow::Result<usize> {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .with_context(|| format!("no node {name}"))
    }

    /// Waits until `done`, at most `limit`.
    pub fn wait_for(
        &self,
        what: &str,
        limit: Duration,
        mut done: impl FnMut(&Self) -> anyhow::Result<bool>,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if done(self).unwrap_or(false) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "gave up waiting for {what} after {limit:?}; states: {:?}; logs in {}",
                    self.states().unwrap_or_default(),
                    self.dir.join("logs").display()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Kills node `i` as when its machine dies: SIGKILL to its keeper and the keeper's children,
    /// its postmaster and every backend, all at once.
    pub fn kill(&mut self, i: usize) -> anyhow::Result<()> {
        let node = &mut self.nodes[i];
        let mut pids = Vec::new();
        if let Some(keeper) = &node.keeper {
            pids.push(keeper.id());
            pids.extend(children(keeper.id()));
        }
        if let Some(postmaster) = postmaster(&node.pgdata) {
            pids.push(postmaster);
            pids.extend(children(postmaster));
        }
        ensure!(!pids.is_empty(), "nothing to kill on {}", node.name);
        signal("KILL", &pids)?;
        if let Some(mut keeper) = node.keeper.take() {
            let _ = keeper.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while postmaster(&node.pgdata).is_some() {
            ensure!(Instant::now() < deadline, "{} did not die", node.name);
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// Starts node `i`'s keeper again: it rewinds the node and rejoins it as a standby.
    pub fn rejoin(&mut self, i: usize) -> anyhow::Result<()> {
        let pgdata = self.nodes[i].pgdata.display().to_string();
        let name = self.nodes[i].name.clone();
        self.nodes[i].keeper = Some(self.run_keeper(&pgdata, &name)?);
        self.wait_for(&format!("{name} to rejoin"), Duration::from_secs(90), |c| {
            let states = c.states()?;
            let standby = states
                .iter()
                .any(|(n, _, r, g)| *n == name && r == "secondary" && g == "secondary");
            Ok(standby && c.in_sync()?)
        })
    }

    /// The pid of the WAL sender on node `i` (a primary), streaming to the standby.
    pub fn wal_sender(&self, i: usize) -> anyhow::Result<u32> {
        let out = psql(
            self.nodes[i].port,
            "postgres",
            "SELECT pid FROM pg_stat_replication",
        )?;
        out.trim().parse().context("no WAL sender")
    }

    /// Makes the standby node `standby` asynchronous (`replication-quorum false`): the primary
    /// no longer waits for it. For the negative control only.
    pub fn make_asynchronous(&self, standby: usize) -> anyhow::Result<()> {
        let pgdata = self.nodes[standby].pgdata.display().to_string();
        self.autoctl(&[
            "set",
            "node",
            "replication-quorum",
            "false",
            "--pgdata",
            &pgdata,
        ])?;
        self.wait_for(
            "the primary to stop waiting for the standby",
            Duration::from_secs(30),
            |c| {
                let primary = c.primary()?;
                let names = psql(
                    c.nodes[primary].port,
                    "postgres",
                    "SHOW synchronous_standby_names",
                )?;
                Ok(names.trim().is_empty())
            },
        )
    }

    /// Cancels, on node `i`, the waits of commits for the synchronous standby, as an operator
    /// would; returns how many it cancelled.
    pub fn cancel_sync_waits(&self, i: usize) -> anyhow::Result<usize> {
        let out = psql(
            self.nodes[i].port,
            "postgres",
            "SELECT count(*) FILTER (WHERE pg_cancel_backend(pid)) FROM pg_stat_activity \
             WHERE wait_event = 'SyncRep'",
        )?;
        Ok(out.trim().parse()?)
    }

    /// The server's URL: every node, the one that accepts writes.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!(
            "postgres://postgres@{}/postgres?target_session_attrs=read-write&sslmode=disable",
            hosts.join(",")
        )
    }

    /// A URL that names node `i` only (the negative control's).
    pub fn single_host_url(&self, i: usize) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            self.nodes[i].port
        )
    }

    pub fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Stopped processes (a WAL sender the run stalled) cannot act on SIGTERM.
        let mut pids = Vec::new();
        let pgdata: Vec<PathBuf> = self
            .nodes
            .iter()
            .map(|n| n.pgdata.clone())
            .chain([self.dir.join("monitor")])
            .collect();
        for dir in &pgdata {
            if let Some(postmaster) = postmaster(dir) {
                pids.push(postmaster);
                pids.extend(children(postmaster));
            }
        }
        let _ = signal("CONT", &pids);
        let keepers = self
            .nodes
            .iter_mut()
            .filter_map(|n| n.keeper.take())
            .chain(self.monitor.take());
        for mut keeper in keepers {
            let mut tree = vec![keeper.id()];
            tree.extend(children(keeper.id()));
            let _ = signal("KILL", &tree);
            let _ = keeper.wait();
        }
        for dir in &pgdata {
            if let Some(postmaster) = postmaster(dir) {
                let mut tree = vec![postmaster];
                tree.extend(children(postmaster));
                let _ = signal("KILL", &tree);
            }
        }
        // Shared memory goes with the last process; the files after them.
        std::thread::sleep(Duration::from_millis(500));
        if std::env::var_os("FAILOVER_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// `sql` as `postgres` on 127.0.0.1:`port`, unaligned and tuples only.
fn psql(port: u16, database: &str, sql: &str) -> anyhow::Result<String> {
    let output = Command::new("psql")
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
        .args(["-d", database, "-c", sql])
        .env("PGCONNECT_TIMEOUT", "2")
        .stdin(Stdio::null())
        .output()?;
    ensure!(
        output.status.success(),
        "psql on {port}: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn chown_to_postgres(dir: &Path) -> anyhow::Result<()> {
    let status = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(dir)
        .status()?;
    ensure!(
        status.success(),
        "cannot give {} to postgres",
        dir.display()
    );
    Ok(())
}

/// The postmaster of `pgdata`, from the first line of its pid file, when it runs.
fn postmaster(pgdata: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(pgdata.join("postmaster.pid"))
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()?;
    alive(pid).then_some(pid)
}

/// Whether `pid` runs (a zombie does not: a killed process whose parent died too may wait for an
/// init that never reaps it).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z")
    })
}

/// Every descendant of `pid` (keepers rename their children, so names cannot find them).
fn children(pid: u32) -> Vec<u32> {
    let output = Command::new("pgrep")
        .args(["-P", &pid.to_string()])
        .output();
    let direct: Vec<u32> = output
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let mut all = direct.clone();
    for child in direct {
        all.extend(children(child));
    }
    all
}

pub fn signal(name: &str, pids: &[u32]) -> anyhow::Result<()> {
    if pids.is_empty() {
        return Ok(());
    }
    // A process may have exited since it was listed: `kill` then fails for it alone.
    Command::new("kill")
        .arg(format!("-{name}"))
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status()?;
    Ok(())
}
