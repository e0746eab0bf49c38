//! Connections that hold the server without asking anything of it: a
//! request head that never ends is cut off, and one address cannot hold more
//! than its share of open sockets, while everyone else is served.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::instance::*;
use crate::support::net::connect_from;

/// How long until the server closes `stream` (reads EOF or a reset), up to `limit`.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) if started.elapsed() < limit => return Some(started.elapsed()),
            Ok(_) => continue, // a 408 or similar before the close
            Err(_) => return None,
        }
    }
}

/// A whole `GET /health` on `stream`; the server's answer.
fn ask_health(stream: &mut TcpStream) -> String {
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

fn health_ok(server: &Server) -> bool {
    let url = server.url("/health");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async { reqwest::get(url).await.map(|r| r.status() == 200).unwrap_or(false) })
    })
    .join()
    .unwrap()
}

#[test]
fn a_request_head_that_never_ends_is_cut_off_at_the_deadline() {
    let fd = Instance::new();
    let server = fd.serve_with_env(&[("FRONTDESK_HEADER_READ_TIMEOUT_SECS", "1")]);
    // Half a request line, then nothing; and a connection that says nothing at all.
    let mut slow = connect_from([127, 0, 0, 1], &server.base);
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: a").unwrap();
    let mut silent = connect_from([127, 0, 0, 1], &server.base);
    assert!(health_ok(&server), "others are served meanwhile");
    let slow_closed = closed_within(&mut slow, Duration::from_secs(10));
    let silent_closed = closed_within(&mut silent, Duration::from_secs(10));
    assert!(slow_closed.is_some_and(|t| t < Duration::from_secs(4)), "{slow_closed:?}");
    assert!(silent_closed.is_some(), "{silent_closed:?}");
    // A whole request in time is answered as before.
    let mut fine = connect_from([127, 0, 0, 1], &server.base);
    let answer = ask_health(&mut fine);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn one_address_cannot_hold_more_than_its_share_of_connections() {
    let fd = Instance::new();
    let server = fd.serve_with_env(&[
        ("FRONTDESK_MAX_CONNECTIONS_PER_IP", "4"),
        ("FRONTDESK_HEADER_READ_TIMEOUT_SECS", "30"),
    ]);
    let greedy = [127, 0, 0, 2];
    let mut held: Vec<TcpStream> = (0..4).map(|_| connect_from(greedy, &server.base)).collect();
    // Wait until the server has taken all four, then the fifth is closed at once.
    std::thread::sleep(Duration::from_millis(300));
    let mut fifth = connect_from(greedy, &server.base);
    let closed = closed_within(&mut fifth, Duration::from_secs(3));
    assert!(closed.is_some(), "the fifth connection from one address is refused");
    // Everyone else is served: another address, and plain requests.
    let mut other = connect_from([127, 0, 0, 3], &server.base);
    let answer = ask_health(&mut other);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(health_ok(&server));
    // A slot comes back when a connection closes.
    drop(held.pop());
    std::thread::sleep(Duration::from_millis(300));
    let mut again = connect_from(greedy, &server.base);
    assert_eq!(closed_within(&mut again, Duration::from_millis(700)), None, "accepted and kept open");
    let answer = ask_health(&mut again);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
