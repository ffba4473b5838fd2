//! The server binary as a child process, for what only a process shows: its output, signals,
//! its exit status.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A running server process; killed and reaped when dropped, panics included.
pub struct ServerProcess {
    child: Child,
    pub port: u16,
    lines: Arc<Mutex<Vec<String>>>,
    /// Reads the child's stdout into `lines`; ends when the child has exited.
    reader: Option<JoinHandle<()>>,
}

impl ServerProcess {
    /// Runs `clients-api` on `database` with extra environment `env` until it listens.
    pub fn start(database: &str, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_clients-api"))
            .args(["--bind", "127.0.0.1:0", "--database-url", database])
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env("WEBHOOK_SECRETS_KEY", crate::helpers::WEBHOOK_SECRETS_KEY)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let collected = Arc::clone(&lines);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                collected.lock().unwrap().push(line);
            }
        });
        let mut server = ServerProcess {
            child,
            port: 0,
            lines,
            reader: Some(reader),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        server.port = loop {
            let port = server.lines().iter().find_map(|line| {
                let rest = line.split("listening on http://127.0.0.1:").nth(1)?;
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            });
            if let Some(port) = port {
                break port;
            }
            assert!(
                Instant::now() < deadline && server.child.try_wait().unwrap().is_none(),
                "server did not start: {:?}",
                server.lines()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// What the server printed so far, line by line.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Sends SIGTERM, as an orchestrator stopping the service does.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Sends SIGKILL, as when the machine or the kernel ends the process: nothing of it runs
    /// after this.
    pub fn kill(&self) {
        let status = Command::new("kill")
            .args(["-KILL", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit, at most `limit`, and for everything it printed to be read.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The pipe is at its end once the process is gone: its last lines are in `lines`
                // when the reader returns.
                if let Some(reader) = self.reader.take() {
                    reader.join().unwrap();
                }
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit in {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
