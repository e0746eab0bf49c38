//! Loopback sockets for the tests: free ports, and connections from a chosen
//! source address.

use std::net::{SocketAddr, TcpStream};

/// A loopback port that is free when asked (the OS picks it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A TCP connection to `server` from the loopback address `from` (Linux
/// routes all of 127.0.0.0/8 to the loopback interface).
pub fn connect_from(from: [u8; 4], server: &str) -> TcpStream {
    let to: SocketAddr = server.trim_start_matches("http://").parse().unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::from((from, 0)).into()).unwrap();
    socket.connect(&to.into()).unwrap();
    socket.into()
}
