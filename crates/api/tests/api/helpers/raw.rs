//! Requests written byte by byte on a TCP connection, for what an HTTP client library will not
//! send: a head that never ends, a body that stops half-way.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::TestApp;

/// Sends `request` on a raw connection and reads the answer: until the server closes the
/// connection or one whole response (head and `Content-Length` body) has arrived, within `limit`.
pub async fn raw_exchange(app: &TestApp, request: &[u8], limit: Duration) -> String {
    let address = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let read = async {
        let mut chunk = [0u8; 4096];
        while !is_complete(&answer) {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(limit, read)
        .await
        .expect("the server answers in bounded time");
    String::from_utf8_lossy(&answer).into_owned()
}

/// Whether `answer` holds a whole response with a `Content-Length` body.
fn is_complete(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    head.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .is_some_and(|length| body.len() >= length)
}
