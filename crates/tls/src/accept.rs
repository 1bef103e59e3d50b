//! Accepting mTLS connections for a tonic server, under [`server_config`](crate::server_config).
//!
//! tonic's own `ServerTlsConfig` builds a second rustls configuration from PEM bytes, with the
//! process-wide default crypto provider. Handing tonic connections that this crate has already
//! accepted keeps one server configuration for every role: the one built here with the ring
//! provider and checked by this crate's tests. tonic still reads the client's certificate from
//! each connection (`Request::peer_certs`), as with its own TLS.

use rustls::ServerConfig;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;

/// A connection after its mTLS handshake.
pub type TlsConnection = tokio_rustls::server::TlsStream<TcpStream>;

/// How long a client has to complete its handshake: one that stalls would otherwise hold a
/// socket and a task for as long as it likes.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections handed to the server while it has not yet taken them.
const QUEUE: usize = 64;

/// The connections accepted on `listener`, each after a completed handshake under `config`
/// (for a tonic server's `serve_with_incoming`). A connection that fails its handshake is
/// yielded as an error, which tonic skips. Handshakes run concurrently, so a slow client does
/// not hold up the others; accepting stops when the stream is dropped. Must be called on a
/// Tokio runtime.
pub fn incoming(
    listener: TcpListener,
    config: Arc<ServerConfig>,
) -> ReceiverStream<io::Result<TlsConnection>> {
    let (accepted, stream) = mpsc::channel(QUEUE);
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let connection = tokio::select! {
                () = accepted.closed() => return,
                connection = listener.accept() => connection,
            };
            let tcp = match connection {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    if accepted.send(Err(e)).await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            // Without this a reply written while an earlier one is unacknowledged waits for the
            // peer's delayed ACK (up to 40 ms on Linux) at every hop of the chain. A socket that
            // refuses is still served, only slower.
            let _ = tcp.set_nodelay(true);
            let (acceptor, accepted) = (acceptor.clone(), accepted.clone());
            tokio::spawn(async move {
                let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp))
                    .await
                    .unwrap_or_else(|_| {
                        Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the client did not complete its TLS handshake in time",
                        ))
                    });
                // The server is gone when this fails; the connection is dropped with it.
                let _ = accepted.send(handshake).await;
            });
        }
    });
    ReceiverStream::new(stream)
}
