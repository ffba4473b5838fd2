//! A TCP proxy between the server and PostgreSQL that a test can cut, freeze and restore, to
//! make the database really unreachable:
//! - cutting closes every proxied connection and refuses new ones, as a database host that went
//!   away and says so (connection refused, reset) does;
//! - freezing stops forwarding on every connection and accepts new ones without ever answering,
//!   as a network partition does: nothing is closed, nothing arrives.

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Forward,
    Cut,
    Freeze,
}

pub struct TcpProxy {
    pub port: u16,
    mode: watch::Sender<Mode>,
    accept: tokio::task::JoinHandle<()>,
}

/// Holds a frozen connection open, silent, until the freeze ends or the proxy goes away.
async fn hold_while_frozen(mut mode: watch::Receiver<Mode>) {
    let _ = mode.wait_for(|m| *m != Mode::Freeze).await;
}

impl TcpProxy {
    /// Starts forwarding a free local port to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (mode, watch_mode) = watch::channel(Mode::Forward);
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let current = *watch_mode.borrow();
                let mut mode = watch_mode.clone();
                match current {
                    Mode::Cut => drop(inbound),
                    Mode::Freeze => {
                        tokio::spawn(async move {
                            hold_while_frozen(mode).await;
                            drop(inbound);
                        });
                    }
                    Mode::Forward => {
                        let upstream = upstream.clone();
                        tokio::spawn(async move {
                            let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                                return;
                            };
                            let frozen = tokio::select! {
                                _ = copy_bidirectional(&mut inbound, &mut outbound) => false,
                                changed = mode.wait_for(|m| *m != Mode::Forward) => {
                                    changed.is_ok_and(|m| *m == Mode::Freeze)
                                }
                            };
                            if frozen {
                                hold_while_frozen(mode).await;
                            }
                        });
                    }
                }
            }
        });
        Self { port, mode, accept }
    }

    /// Closes every connection through the proxy and refuses new ones until [`Self::restore`].
    pub fn cut(&self) {
        self.mode.send_replace(Mode::Cut);
    }

    /// Stops forwarding on every connection, and leaves new ones unanswered, until
    /// [`Self::restore`]. Frozen connections stay open and silent until then, then are closed.
    pub fn freeze(&self) {
        self.mode.send_replace(Mode::Freeze);
    }

    /// Forwards new connections again; connections frozen or cut before are closed.
    pub fn restore(&self) {
        self.mode.send_replace(Mode::Forward);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}
